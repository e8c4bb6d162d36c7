// The mail log of a worker master forked (core, smtpd, delivery): each opens
// it the same way, so the rule lives here once.
import { createLogger } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import { useInheritedLogFd } from '../../global/log/sinks.js';
import type { Config } from '../../global/params/config.js';
import { ENV_MAILLOG_FD, ENV_MAILLOG_FILE } from './ipc.js';

/**
 * The logger for a (re)configured worker. master opened maillog_file for us
 * (it may not be writable by mail_owner), as postlogd(8) would; after a reload
 * that names another file the worker opens that itself. A logger that cannot
 * be made is reported on the previous one, which stays in use.
 */
export function workerLogger(config: Config, previous: Logger): Logger {
  const fd = Number(process.env[ENV_MAILLOG_FD]);
  const file = config.get('maillog_file');
  if (file && file === process.env[ENV_MAILLOG_FILE] && Number.isInteger(fd) && fd > 2) useInheritedLogFd(file, fd);
  try {
    return createLogger(config, 'master');
  } catch (e) {
    previous.warning(`${(e as Error).message}`);
    return previous;
  }
}
