// Reply and log text in Postfix's exact wording: `<name>: Class rejected: why`
// replies with enhanced status codes whose class follows the reply code, and
// the `reject: RCPT from name[addr]: ...; from=<> to=<> proto=ESMTP helo=<>`
// text of the mail log line (smtpd prefixes it with the queue ID or NOQUEUE).
import { internalAddress, stripSourceRoute } from '../../../global/addr/address.js';
import type { ParamReader } from '../../../global/params/types.js';
import type { SmtpReply } from '../../../global/smtp/reply.js';
import type { RestrictionStage, SessionFacts } from '../policy-api.js';

/** Class names as Postfix prints them in "<name>: Class rejected: ...". */
export const CLASS = {
  client: 'Client host',
  reverseClient: 'Unverified Client host',
  helo: 'Helo command',
  sender: 'Sender address',
  recipient: 'Recipient address',
  data: 'Data command',
  eod: 'End-of-data',
  etrn: 'Etrn command',
} as const;

/** `name[addr]` (or `name[addr]:port` with smtpd_client_port_logging). */
export function namaddr(facts: SessionFacts, config: ParamReader): string {
  const base = `${facts.clientName}[${facts.clientAddr}]`;
  return safeBool(config, 'smtpd_client_port_logging') ? `${base}:${facts.clientPort}` : base;
}

/** The command a log line names. With smtpd_delay_reject, early stages are evaluated at RCPT. */
export function whereName(stage: RestrictionStage, facts: SessionFacts): string {
  switch (stage) {
    case 'connect':
    case 'helo':
    case 'mail':
      if (facts.recipient !== undefined) return 'RCPT';
      if (stage === 'mail') return 'MAIL';
      if (stage === 'helo') return facts.esmtp ? 'EHLO' : 'HELO';
      return 'CONNECT';
    case 'rcpt':
      return 'RCPT';
    case 'data':
      return 'DATA';
    case 'end-of-data':
      return 'END-OF-MESSAGE';
    case 'etrn':
      return 'ETRN';
    case 'vrfy':
      return 'VRFY';
  }
}

/** The default reply name and class of a stage, for restrictions that reject "the command". */
export function stageSubject(stage: RestrictionStage, facts: SessionFacts, config: ParamReader): [string, string] {
  switch (stage) {
    case 'connect':
      return [namaddr(facts, config), CLASS.client];
    case 'helo':
      return [facts.helo ?? '', CLASS.helo];
    case 'mail':
      return [replyAddress(facts.sender ?? ''), CLASS.sender];
    case 'rcpt':
    case 'vrfy':
      return [replyAddress(facts.recipient ?? ''), CLASS.recipient];
    case 'data':
      return ['DATA', CLASS.data];
    case 'end-of-data':
      return ['END-OF-MESSAGE', CLASS.eod];
    case 'etrn':
      return [facts.etrnDomain ?? '', CLASS.etrn];
  }
}

/**
 * Client-supplied text (HELO names, addresses, DNS TXT records) must not
 * break a reply into extra lines or forge log lines: control characters
 * become `?`, and overlong text is cut.
 */
export function printable(text: string, max = 1000): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

/** `text; from=<s> to=<r> proto=ESMTP helo=<h>` as Postfix's log_whatsup() builds it. */
export function logLine(
  action: string,
  stage: RestrictionStage,
  facts: SessionFacts,
  config: ParamReader,
  text: string,
) {
  let line = `${action}: ${whereName(stage, facts)} from ${printable(namaddr(facts, config))}: ${printable(text)};`;
  if (facts.sender !== undefined) line += ` from=<${printable(facts.sender)}>`;
  if (facts.recipient !== undefined) line += ` to=<${printable(facts.recipient)}>`;
  line += ` proto=${facts.esmtp ? 'ESMTP' : 'SMTP'}`;
  if (facts.helo !== undefined) line += ` helo=<${printable(facts.helo)}>`;
  return line;
}

/**
 * An address as replies show it: Postfix's internal form, source route
 * dropped and quotes removed (`"a@b"@c` is shown as `<a@b@c>`); the log's
 * from=/to= fields keep the form the client sent.
 */
export function replyAddress(address: string): string {
  return internalAddress(stripSourceRoute(address));
}

/** Make the enhanced status code's class agree with the reply code (Postfix does the same). */
export function fixDsnClass(code: number, dsn: string): string {
  const cls = String(Math.floor(code / 100));
  return /^[245]\./.test(dsn) ? cls + dsn.slice(1) : `${cls}.0.0`;
}

/** Split a leading `X.Y.Z ` enhanced status code off a text. */
export function splitDsn(text: string): { dsn: string | undefined; rest: string } {
  const m = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)(.*)$/s.exec(text);
  return m ? { dsn: m[1], rest: m[2] ?? '' } : { dsn: undefined, rest: text };
}

export function replyText(reply: SmtpReply): string {
  return reply.dsn ? `${reply.code} ${reply.dsn} ${reply.text}` : `${reply.code} ${reply.text}`;
}

function safeBool(config: ParamReader, name: string): boolean {
  try {
    return config.bool(name);
  } catch {
    return false;
  }
}
