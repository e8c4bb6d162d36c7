// The Logger every daemon and command gets: `createLogger(config, service)`.
// Follows Postfix 3.7: with maillog_file set, lines go to that file (what
// postlogd(8) does); otherwise to syslog with syslog_facility. The tag is
// `$syslog_name/service`, so master.cf `-o syslog_name=postfix/submission`
// yields `postfix/submission/smtpd`.
import { FatalError, type Logger, type Severity } from './logger.js';
import { formatFileLine, SYSLOG_FACILITIES } from './format.js';
import { FileSink, logFileDescriptor, type LogRecord, type LogSink } from './sinks.js';
import { SyslogSink } from './syslog-sink.js';
import type { ParamReader } from '../params/types.js';

export interface LoggerOptions {
  /** Also print `tag: warning: text` to standard error (commands run by a person). */
  readonly stderr?: boolean;
  /** Use this tag as is instead of `$syslog_name/service` (postlog -t). */
  readonly tag?: string;
  /** pid shown in lines; defaults to this process. */
  readonly pid?: number;
}

export class LogConfigError extends Error {
  override name = 'LogConfigError';
}

/** A logger that sends each record to every sink; `child` shares the sinks. */
export class MailLogger implements Logger {
  constructor(
    readonly tag: string,
    private readonly sinks: readonly LogSink[],
    private readonly syslogName: string,
    private readonly pid = process.pid,
  ) {}

  private emit(severity: Severity, text: string): void {
    const record: LogRecord = { when: new Date(), tag: this.tag, pid: this.pid, severity, text };
    for (const sink of this.sinks) sink.write(record);
  }
  info(text: string): void {
    this.emit('info', text);
  }
  warning(text: string): void {
    this.emit('warning', text);
  }
  error(text: string): void {
    this.emit('error', text);
  }
  fatal(text: string): never {
    this.emit('fatal', text);
    throw new FatalError(text);
  }
  panic(text: string): never {
    this.emit('panic', text);
    throw new FatalError(text, 'panic');
  }
  child(service: string): MailLogger {
    return new MailLogger(`${this.syslogName}/${service}`, this.sinks, this.syslogName, this.pid);
  }
}

/** Prints what a person at a terminal should see: `postfix/postfix-script: warning: text`. */
export class StderrSink implements LogSink {
  constructor(private readonly prog: string) {}
  write(r: LogRecord): void {
    const label = r.severity === 'info' ? '' : `${r.severity}: `;
    process.stderr.write(`${this.prog}: ${label}${r.text.replace(/[\r\n]/g, '?')}\n`);
  }
}

/** The short host name, as syslog daemons print it in front of the tag. */
function logHost(config: ParamReader): string {
  const name = config.get('myhostname') || 'localhost';
  return name.split('.')[0] || name;
}

/**
 * Check maillog_file against maillog_file_prefixes, as Postfix does before it
 * writes anywhere: a typo must not make a root process append to arbitrary files.
 */
export function checkMaillogFile(config: ParamReader): string {
  const file = config.get('maillog_file');
  if (!file) return '';
  const prefixes = config.list('maillog_file_prefixes');
  if (!prefixes.some((p) => file.startsWith(p))) {
    throw new LogConfigError(
      `parameter maillog_file: value "${file}" does not match any prefix in maillog_file_prefixes: ${prefixes.join(', ')}`,
    );
  }
  return file;
}

/** The sinks the configuration asks for (without stderr). Throws LogConfigError on a bad setting. */
export function configuredSinks(config: ParamReader): LogSink[] {
  const file = checkMaillogFile(config);
  if (file) {
    let fd: number;
    try {
      fd = logFileDescriptor(file);
    } catch (e) {
      throw new LogConfigError(`open maillog_file ${file}: ${(e as Error).message}`);
    }
    return [
      new FileSink(fd, logHost(config), (r, host) => formatFileLine(r.when, host, r.tag, r.pid, r.severity, r.text)),
    ];
  }
  const facilityName = config.get('syslog_facility').toLowerCase();
  const facility = SYSLOG_FACILITIES[facilityName];
  if (facility === undefined) throw new LogConfigError(`unknown syslog_facility value: ${facilityName}`);
  return [new SyslogSink(facility)];
}

/**
 * The logger for `service` (e.g. `smtpd`) under this configuration, which
 * carries the master.cf entry's `-o` overrides when a daemon calls it.
 */
export function createLogger(config: ParamReader, service: string, options: LoggerOptions = {}): MailLogger {
  const syslogName = config.get('syslog_name') || 'postfix';
  const sinks = configuredSinks(config);
  const tag = options.tag ?? `${syslogName}/${service}`;
  // With the log on the terminal already (maillog_file = /dev/stdout), a second copy is noise.
  const logOnTerminal = ['/dev/stdout', '/dev/stderr'].includes(config.get('maillog_file'));
  if (options.stderr && !logOnTerminal) sinks.push(new StderrSink(tag));
  return new MailLogger(tag, sinks, syslogName, options.pid);
}

/** A logger for commands before (or without) a readable configuration: stderr only. */
export function stderrLogger(prog: string): MailLogger {
  return new MailLogger(prog, [new StderrSink(prog)], 'postfix');
}
