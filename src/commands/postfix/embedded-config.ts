// The embedded default configuration behind `npm start`: a self-contained
// Postern under one directory (var/), runnable without root: config in etc/,
// queue in spool/, mailboxes in mail/, mail_owner = the invoking user, SMTP on
// 127.0.0.1:2525, the log on standard output.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { getpw } from '../../util/passwd.js';

export interface EmbeddedOptions {
  /** The state directory (created); `npm start` uses ./var. */
  readonly baseDir: string;
  readonly port?: number;
  readonly maillogFile?: string;
}

export interface EmbeddedPaths {
  readonly configDir: string;
  readonly queueDir: string;
  readonly mailDir: string;
  readonly port: number;
}

function groupName(gid: number): string | undefined {
  try {
    const line = execFileSync('getent', ['group', String(gid)], { encoding: 'utf8', timeout: 5000 });
    return line.split(':')[0] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The user the mail system runs as: the invoking user, except for root, where
 * network-facing code must not run as root: then Postfix's `postfix` account,
 * or `nobody`.
 */
function embeddedOwner(): { user: string; gid: number } {
  const me = userInfo();
  if (me.uid !== 0) return { user: me.username, gid: me.gid };
  for (const name of ['postfix', 'nobody']) {
    const pw = getpw(name);
    if (pw) return { user: pw.name, gid: pw.gid };
  }
  return { user: 'nobody', gid: 65534 };
}

export function embeddedMainCf(base: string, _port: number, maillog: string): string {
  const owner = embeddedOwner();
  const group = groupName(owner.gid);
  return `# Postern embedded default configuration, written by \`npm start\` when missing.
# Edit freely: it is never overwritten. Remove this directory to start afresh.
compatibility_level = 3.6
myhostname = localhost.localdomain
mydestination = $myhostname, localhost.$mydomain, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = ${base}/spool
data_directory = ${base}/lib
mail_spool_directory = ${base}/mail
# Unprivileged: every process runs as the user who started Postern (as root: a mail account).
mail_owner = ${owner.user}
default_privs = ${owner.user}
${group ? `setgid_group = ${group}\n` : ''}alias_maps =
alias_database =
maillog_file = ${maillog}
maillog_file_prefixes = /var, /dev/stdout, ${base}
`;
}

export function embeddedMasterCf(port: number): string {
  return `# Postern embedded default master.cf, written by \`npm start\` when missing.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
  -o syslog_name=postfix/$service_name
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
`;
}

/** Create the directories and (only when absent) the two configuration files. */
export function writeEmbeddedConfig(opts: EmbeddedOptions): EmbeddedPaths {
  const base = resolve(opts.baseDir);
  const port = opts.port ?? 2525;
  const configDir = join(base, 'etc');
  const queueDir = join(base, 'spool');
  const mailDir = join(base, 'mail');
  for (const d of [configDir, queueDir, mailDir, join(base, 'lib')]) mkdirSync(d, { recursive: true, mode: 0o755 });
  // As root the mail system runs as another account; local(8) creates mailboxes and
  // their dot-locks there as the recipient, so the spool is sticky and writable (as /var/mail traditionally is).
  if ((process.getuid?.() ?? 1) === 0) chmodSync(mailDir, 0o1777);
  const mainCf = join(configDir, 'main.cf');
  const masterCf = join(configDir, 'master.cf');
  if (!existsSync(mainCf))
    writeFileSync(mainCf, embeddedMainCf(base, port, opts.maillogFile ?? '/dev/stdout'), { mode: 0o644 });
  if (!existsSync(masterCf)) writeFileSync(masterCf, embeddedMasterCf(port), { mode: 0o644 });
  return { configDir, queueDir, mailDir, port };
}
