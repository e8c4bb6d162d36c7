// `npm start`: create the embedded default configuration under ./var (see
// embedded-config.ts), say how to send a test message, and run the mail
// system in the foreground (`postfix -c var/etc start-fg`) until Ctrl-C.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { main as postfix } from './main.js';
import { writeEmbeddedConfig } from './embedded-config.js';

const baseDir = process.env.POSTERN_VAR ?? join(process.cwd(), 'var');
// POSTERN_PORT applies when the configuration is first written (tests use a free port).
const portEnv = Number(process.env.POSTERN_PORT);
const paths = writeEmbeddedConfig({ baseDir, port: Number.isInteger(portEnv) && portEnv > 0 ? portEnv : undefined });
// An edited main.cf may have moved the port; master.cf is what binds it.
const port =
  /^127\.0\.0\.1:(\d+)\s+inet\b/m.exec(readFileSync(join(paths.configDir, 'master.cf'), 'utf8'))?.[1] ??
  String(paths.port);
const user = userInfo().username;

process.stdout
  .write(`Postern embedded default: configuration in ${paths.configDir}, queue in ${paths.queueDir}, mail in ${paths.mailDir}
Send a test message from another terminal with:
  swaks --server 127.0.0.1:${port} --from you@localhost --to ${user}@localhost
or
  python3 -c "import smtplib; smtplib.SMTP('127.0.0.1', ${port}).sendmail('you@localhost', ['${user}@localhost'], 'Subject: test\\r\\n\\r\\nhello\\r\\n')"
and find it in ${join(paths.mailDir, user)}. Stop with Ctrl-C.
`);

// As root the queue must belong to mail_owner before the worker can use it.
if (process.getuid?.() === 0) await postfix(['-c', paths.configDir, 'set-permissions'], 'postfix');
process.exitCode = await postfix(['-c', paths.configDir, 'start-fg'], 'postfix');
