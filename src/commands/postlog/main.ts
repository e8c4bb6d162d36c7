// postlog(1): log a message from a shell script to the mail log, through the
// same sinks as the daemons (maillog_file or syslog). Text comes from the
// operands, or one record per line of standard input.
import { createInterface } from 'node:readline';
import { createLogger } from '../../global/log/create-logger.js';
import type { Severity } from '../../global/log/logger.js';
import { FatalError } from '../../global/log/logger.js';
import { loadConfig } from '../../global/params/config.js';
import { configDirectory } from '../postfix/config-dir.js';
import { getopt, UsageError } from '../../util/getopt.js';

const PRIORITIES: Readonly<Record<string, Severity>> = {
  info: 'info',
  warn: 'warning',
  warning: 'warning',
  error: 'error',
  err: 'error',
  fatal: 'fatal',
  crit: 'fatal',
  panic: 'panic',
};

/** Longest stdin line taken as one record; the rest of a longer line is dropped. */
const MAX_INPUT_LINE = 8192;

export async function main(argv: string[], progName: string): Promise<number> {
  let configDir: string | undefined;
  let priority: Severity = 'info';
  let tag: string | undefined;
  let parsed;
  try {
    parsed = getopt(argv, 'c:ip:t:v');
  } catch (e) {
    process.stderr.write(`${progName}: ${(e as UsageError).message}\n`);
    process.stderr.write(
      `${progName}: fatal: usage: ${progName} [-c config_dir] [-i] [-p priority] [-t tag] [-v] [text]\n`,
    );
    return 1;
  }
  for (const { flag, value } of parsed.options) {
    if (flag === 'c') configDir = value;
    else if (flag === 'p') {
      const p = PRIORITIES[value.toLowerCase()];
      if (!p) {
        process.stderr.write(`${progName}: fatal: unknown priority value: ${value}\n`);
        return 1;
      }
      priority = p;
    } else if (flag === 't') tag = value;
    // -i (include pid) is what Postfix 3.7 always does; -v adds nothing here.
  }
  const dir = configDirectory(configDir);
  let logger;
  try {
    const config = loadConfig(dir);
    logger = createLogger(config, progName, {
      stderr: process.stderr.isTTY,
      tag: tag ?? `${config.get('syslog_name') || 'postfix'}/${progName}`,
    });
  } catch (e) {
    process.stderr.write(`${progName}: fatal: ${(e as Error).message}\n`);
    return 1;
  }
  const log = (text: string): void => {
    try {
      if (priority === 'info') logger.info(text);
      else if (priority === 'warning') logger.warning(text);
      else if (priority === 'error') logger.error(text);
      else if (priority === 'fatal') logger.fatal(text);
      else logger.panic(text);
    } catch (e) {
      // postlog -p fatal only records the line; it does not fail the script.
      if (!(e instanceof FatalError)) throw e;
    }
  };
  if (parsed.operands.length > 0) {
    log(parsed.operands.join(' '));
    return 0;
  }
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) log(line.slice(0, MAX_INPUT_LINE));
  return 0;
}
