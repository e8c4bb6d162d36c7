// Line formats of the mail log. Postfix writes `Mon DD HH:MM:SS host tag[pid]: text`
// to maillog_file (postlogd(8)) and hands syslog(3) `<PRI>Mon DD HH:MM:SS tag[pid]: text`
// (RFC 3164 as glibc sends it to /dev/log: the local syslog daemon adds the host).
import type { Severity } from './logger.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Longest text kept in one log line; longer text is cut and marked, never split. */
export const MAX_LOG_TEXT = 4096;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

// A busy daemon logs many lines per second; the local-time fields are worked
// out once per second (the zone cannot change within one second of the same process).
let fileStampSecond = NaN;
let fileStamp = '';

/** `Nov 26 00:59:19` in local time, as Postfix's maillog_file writer prints it. */
export function fileTimestamp(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second === fileStampSecond) return fileStamp;
  const month = MONTHS[d.getMonth()] ?? 'Jan';
  fileStamp = `${month} ${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  fileStampSecond = second;
  return fileStamp;
}

/** RFC 3164 TIMESTAMP: the day of month is space-padded (`Nov  6`). */
export function syslogTimestamp(d: Date): string {
  const month = MONTHS[d.getMonth()] ?? 'Jan';
  const day = d.getDate() < 10 ? ` ${d.getDate()}` : String(d.getDate());
  return `${month} ${day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f]/g;

/**
 * Make text from untrusted sources safe for one log line: control characters
 * (including CR/LF, which would forge extra lines) become `?` as Postfix does,
 * and over-long text is truncated.
 */
export function sanitizeLogText(text: string): string {
  // Nearly every line is clean: a test is cheaper than a replace that finds nothing.
  let out = CONTROL.test(text) ? text.replace(CONTROLS, '?') : text;
  if (out.length > MAX_LOG_TEXT) out = `${out.slice(0, MAX_LOG_TEXT)}...`;
  return out;
}

/** The message part after `tag[pid]: `, with the severity label Postfix uses. */
export function labelled(severity: Severity, text: string): string {
  return severity === 'info' ? text : `${severity}: ${text}`;
}

export function formatFileLine(
  when: Date,
  host: string,
  tag: string,
  pid: number,
  severity: Severity,
  text: string,
): string {
  return `${fileTimestamp(when)} ${host} ${tag}[${pid}]: ${labelled(severity, sanitizeLogText(text))}\n`;
}

/** Syslog severities (RFC 5424 §6.2.1) for Postfix's labels: fatal and panic are LOG_CRIT. */
const SYSLOG_SEVERITY: Record<Severity, number> = { info: 6, warning: 4, error: 3, fatal: 2, panic: 2 };

/** syslog_facility names accepted by Postfix (syslog.h), by code. */
export const SYSLOG_FACILITIES: Readonly<Record<string, number>> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export function formatSyslogPacket(
  when: Date,
  facility: number,
  tag: string,
  pid: number,
  severity: Severity,
  text: string,
): string {
  const pri = facility * 8 + SYSLOG_SEVERITY[severity];
  return `<${pri}>${syslogTimestamp(when)} ${tag}[${pid}]: ${labelled(severity, sanitizeLogText(text))}`;
}
