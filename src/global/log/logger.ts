// The mail log in Postfix's shape: `Mon DD HH:MM:SS host postfix/smtpd[pid]: text`,
// with the severity labels Postfix uses. This file defines the interface every
// component logs through; log/sinks decide where lines go (syslog, maillog_file).

export type Severity = 'info' | 'warning' | 'error' | 'fatal' | 'panic';

/** Thrown by `fatal()`/`panic()` after the line is logged; daemon skeletons catch it. */
export class FatalError extends Error {
  override name = 'FatalError';
  constructor(
    message: string,
    readonly severity: 'fatal' | 'panic' = 'fatal',
  ) {
    super(message);
  }
}

export interface Logger {
  /** The program part of the tag, e.g. `postfix/smtpd` (`$syslog_name/service`). */
  readonly tag: string;
  info(text: string): void;
  warning(text: string): void;
  error(text: string): void;
  fatal(text: string): never;
  panic(text: string): never;
  /** A logger for another service name in the same process (e.g. `postfix/cleanup`). */
  child(service: string): Logger;
}
