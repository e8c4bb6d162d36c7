// pipe(8): delivery to an external command named in master.cf (`argv=`),
// run as `user=` (never root), with `${sender}`, `${recipient}`, `${user}`,
// `${extension}`, `${domain}`, `${mailbox}`, `${nexthop}`, `${size}`,
// `${queue_id}`, `${original_recipient}` expanded per argument (an argument
// naming a recipient attribute repeats once per recipient) and the message
// prepared per `flags=`. The exit status maps through sysexits: EX_TEMPFAIL
// defers, other failures bounce. Touches: processes.
import { readFileSync } from 'node:fs';
import { splitAddress, unquoteLocalPart, quoteLocalPart } from '../../global/addr/address.js';
import { splitExtension } from '../../global/addr/extension.js';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../global/queue/delivery-api.js';
import { getpw } from '../../util/passwd.js';
import { runCommand, sysexitDetail } from '../local/command.js';
import { spawnIdentity } from '../local/identity.js';
import { withExported } from '../local/command-env.js';
import { asctime, toUnixLines } from '../local/mail-copy.js';
import { parsePipeArgs, type PipeArgs } from './pipe-args.js';

export interface PipeAgentOptions {
  readonly config: ParamReader;
  readonly logger: Logger;
  /** The master.cf service name (the transport, e.g. `maildrop`) and its arguments. */
  readonly service: string;
  readonly args: readonly string[];
}

const RECIPIENT_MACROS = /\$(?:\{)?(recipient|original_recipient|user|extension|mailbox|domain)\b/;

export function createPipeAgent(o: PipeAgentOptions): DeliveryAgent {
  const p = parsePipeArgs(o.args);
  const pw = getpw(p.user);
  if (!pw) throw new Error(`pipe: unknown user name: ${p.user}`);
  if (pw.uid === 0) throw new Error('pipe: user= command-line attribute specifies root privileges');
  const owner = getpw(o.config.get('mail_owner'));
  if (owner && owner.uid === pw.uid && process.getuid?.() === 0) {
    throw new Error('pipe: user= command-line attribute specifies mail system owner');
  }
  let gid = pw.gid;
  if (p.group) {
    const g = /^\d+$/.test(p.group) ? Number(p.group) : groupId(p.group);
    if (g === undefined || g === 0) throw new Error(`pipe: unknown or privileged group: ${p.group}`);
    gid = g;
  }
  const who = spawnIdentity({ uid: pw.uid, gid, user: pw.name });
  const delimiter = o.config.get('recipient_delimiter');
  const timeLimit = timeLimitFor(o.config, o.service);

  return {
    command: 'pipe',
    async deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
      const all = (status: RecipientOutcome['status'], dsn: string, reason: string): RecipientOutcome[] =>
        req.recipients.map((r) => ({ index: r.index, status, dsn, relay: o.service, reason }));
      if (p.sizeLimit !== undefined && req.size > p.sizeLimit) {
        return all(
          'bounced',
          '5.2.3',
          `message size ${req.size} exceeds size limit ${p.sizeLimit} of service ${o.service}`,
        );
      }
      // sendmail -bv: the command is what would get the mail; it is not run.
      if (req.verifyOnly === true) return all('sent', '2.0.0', `delivers to command: ${p.argv[0] ?? ''}`);
      const parts: Buffer[] = [];
      for await (const b of req.openContent()) parts.push(b);
      const input = prepare(Buffer.concat(parts), req, p);
      const argv = expandArgv(p, req, o.service, delimiter);
      const res = await runCommand({
        who,
        argv,
        env: environment(o.config, pw.name, pw.home),
        cwd: p.directory ?? '/',
        input,
        timeLimitSeconds: timeLimit,
      });
      if (res.kind === 'ok') {
        return all('sent', '2.0.0', `delivered via ${o.service} service`);
      }
      if (res.kind === 'exit') {
        const d = sysexitDetail(res.code);
        const known = res.code >= 64 && res.code <= 78;
        const text = known ? d.text : `Command died with status ${res.code}: "${argv[0] ?? ''}"`;
        const reason = res.output ? `${text}. Command output: ${res.output}` : text;
        return all(d.dsn.startsWith('4') ? 'deferred' : 'bounced', d.dsn, reason);
      }
      if (res.kind === 'timeout') return all('deferred', '4.3.0', `Command time limit exceeded: "${argv[0] ?? ''}"`);
      if (res.kind === 'signal')
        return all('deferred', '4.3.0', `Command died with signal ${res.signal}: "${argv[0] ?? ''}"`);
      return all('deferred', '4.3.0', res.reason);
    },
  };
}

/** `<transport>_time_limit`, defaulting to command_time_limit as postconf(5) says. */
function timeLimitFor(c: ParamReader, service: string): number {
  const name = `${service}_time_limit`;
  try {
    if (c.isSet(name)) return c.time(name);
  } catch {
    // malformed: fall back
  }
  return c.time('command_time_limit');
}

function groupId(name: string): number | undefined {
  try {
    const text = readFileSync('/etc/group', 'utf8');
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
    }
  } catch {
    // no group file
  }
  return undefined;
}

function environment(c: ParamReader, user: string, home: string): Record<string, string> {
  const base = { PATH: '/usr/bin:/bin', LOGNAME: user, USER: user, HOME: home || '/', SHELL: '/bin/sh' };
  return withExported(base, c.list('export_environment'));
}

/** The message as the command reads it: flags F, R, O, D headers first, then `.`/`>` quoting, eol=, B. */
function prepare(content: Buffer, req: DeliveryRequest, p: PipeArgs): Buffer {
  const f = p.flags;
  const first = req.recipients[0];
  const head: string[] = [];
  if (f.has('F')) head.push(`From ${req.sender || p.nullSender}  ${asctime(new Date(req.arrivalTime))}`);
  if (f.has('R')) head.push(`Return-Path: <${req.sender}>`);
  if (f.has('O') && first) head.push(`X-Original-To: ${first.original}`);
  if (f.has('D') && first) head.push(`Delivered-To: ${first.address.toLowerCase()}`);
  const lines = toUnixLines(content).toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const body = lines.map((l) => {
    let out = l;
    if (f.has('.') && out.startsWith('.')) out = `.${out}`;
    if (f.has('>') && out.startsWith('From ')) out = `>${out}`;
    return out;
  });
  const all = [...head.map((h) => h.replace(/[\r\n]+/g, ' ')), ...body];
  if (f.has('B')) all.push('');
  return Buffer.from(all.map((l) => l + p.eol).join(''), 'latin1');
}

function expandArgv(p: PipeArgs, req: DeliveryRequest, service: string, delimiter: string): string[] {
  const out: string[] = [];
  for (const arg of p.argv) {
    if (RECIPIENT_MACROS.test(arg)) {
      for (const r of req.recipients) out.push(expand(arg, vars(p, req, service, delimiter, r)));
    } else {
      out.push(expand(arg, vars(p, req, service, delimiter, undefined)));
    }
  }
  return out;
}

function vars(
  p: PipeArgs,
  req: DeliveryRequest,
  service: string,
  delimiter: string,
  r: DeliveryRecipient | undefined,
): Record<string, string> {
  const v: Record<string, string> = {
    sender: fold(req.sender, p, false) || p.nullSender,
    nexthop: p.flags.has('h') ? req.nexthop.toLowerCase() : req.nexthop,
    size: String(req.size),
    queue_id: req.queueId,
    client_hostname: req.client?.name ?? '',
    client_address: req.client?.addr ?? '',
    client_helo: req.client?.helo ?? '',
    service,
  };
  if (r) {
    const rcpt = fold(r.address, p, true);
    const s = splitAddress(rcpt);
    const local = unquoteLocalPart(s.local);
    const ext = splitExtension(local, { delimiters: delimiter });
    Object.assign(v, {
      recipient: rcpt,
      original_recipient: fold(r.original, p, true),
      mailbox: local,
      user: ext ? ext.base : local,
      extension: ext ? ext.extension : '',
      domain: s.domain,
    });
  }
  return v;
}

/** Flags u (local part), h (domain) fold to lower case; q quotes the local part when it needs it. */
function fold(address: string, p: PipeArgs, recipient: boolean): string {
  if (address === '') return '';
  const s = splitAddress(address);
  let local = unquoteLocalPart(s.local);
  let domain = s.domain;
  if (recipient && p.flags.has('u')) local = local.toLowerCase();
  if (recipient && p.flags.has('h')) domain = domain.toLowerCase();
  if (p.flags.has('q')) local = quoteLocalPart(local);
  return s.hasAt ? `${local}@${domain}` : local;
}

/** `$name` and `${name}` from the table; unknown names are left as written (a shell `$1` stays). */
function expand(arg: string, v: Record<string, string>): string {
  return arg.replace(/\$\{([a-z_]+)\}|\$([a-z_]+)/g, (m, a?: string, b?: string) => {
    const name = a ?? b ?? '';
    return Object.prototype.hasOwnProperty.call(v, name) ? (v[name] ?? '') : m;
  });
}
