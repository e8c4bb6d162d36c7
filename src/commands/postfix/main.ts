// postfix(1): `postfix [-c config_dir] [-Dv] command` controls the mail system.
// Postfix runs postfix-script for the commands; Postern does the same work
// here: check, start, start-fg, stop, abort, reload, status, flush,
// set-permissions. Unprivileged use: see docs/ARCHITECTURE.md ("Running
// without root") — allowed when mail_owner names the invoking user.
import { createLogger, MailLogger, StderrSink } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import { loadConfig, type Config } from '../../global/params/config.js';
import { getopt } from '../../util/getopt.js';
import { checkInstallation, checkSyntax, reportCheck } from './check.js';
import { configDirectory } from './config-dir.js';
import { abort, flush, reload, start, startForeground, status, stop, type ControlContext } from './control.js';
import { setPermissions } from './set-permissions.js';

const USAGE =
  'Usage: postfix start (or stop, reload, abort, flush, check, status, set-permissions, upgrade-configuration, logrotate)';

/** Commands that must not start when main.cf or master.cf is broken (postfix-script check-fatal). */
const NEEDS_VALID_CONFIG = new Set(['start', 'start-fg', 'reload']);

export async function main(argv: string[], progName: string): Promise<number> {
  let parsed;
  try {
    parsed = getopt(argv, 'c:Dv');
  } catch (e) {
    process.stderr.write(`${progName}: ${(e as Error).message}\n`);
    process.stderr.write(`${progName}: fatal: usage: ${progName} [-c config_dir] [-Dv] command\n`);
    return 1;
  }
  const dirOption = parsed.options.filter((o) => o.flag === 'c').pop()?.value;
  const configDir = configDirectory(dirOption);
  const command = parsed.operands[0] ?? '';
  let config: Config;
  try {
    config = loadConfig(configDir);
  } catch (e) {
    process.stderr.write(`${progName}: fatal: ${(e as Error).message}\n`);
    return 1;
  }
  let log: Logger;
  try {
    log = createLogger(config, 'postfix-script', { stderr: true });
  } catch (e) {
    // A bad maillog_file must still let `postfix check` say what is wrong.
    const name = config.get('syslog_name') || 'postfix';
    log = new MailLogger(`${name}/postfix-script`, [new StderrSink(`${name}/postfix-script`)], name);
    if (command !== 'check') {
      process.stderr.write(`${progName}: fatal: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (NEEDS_VALID_CONFIG.has(command)) {
    const problems = checkSyntax(configDir, config);
    if (problems.length > 0) return reportCheck({ fatal: problems, warnings: [] }, log);
  }
  const ctx: ControlContext = { configDir, config, log };
  switch (command) {
    case 'check':
      return reportCheck(checkInstallation(configDir, config), log);
    case 'start':
      return start(ctx);
    case 'start-fg':
      return startForeground(ctx);
    case 'stop':
      return stop(ctx);
    case 'abort':
      return abort(ctx);
    case 'reload':
      return reload(ctx);
    case 'status':
      return status(ctx);
    case 'flush':
      return await flush(ctx);
    case 'set-permissions':
      return setPermissions(config, log);
    default:
      try {
        log.fatal(`unknown command: '${command}'. ${USAGE}`);
      } catch {
        // fatal() throws by design
      }
      return 1;
  }
}
