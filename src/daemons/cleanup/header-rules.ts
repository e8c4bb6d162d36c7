// cleanup(8)'s header pass: header_checks, message_drop_headers,
// header_size_limit, header_address_token_limit, the Received: hop count
// (hopcount_limit), and the missing (Resent-)From:/Date:/Message-Id:/To:
// headers that are added for local submissions or when
// always_add_missing_headers says so. Produces the header section to store and
// the `message-id=` log text.
import type { SmtpReply } from '../../global/smtp/reply.js';
import { ADDRESS_HEADERS, tokenLimitCut } from '../../global/addr/header-tokens.js';
import { headerText, headerValue, limitHeader, type LogicalHeader } from './header-parse.js';
import type { CleanupContentChecks, RewriteContext } from './hooks.js';
import { mailDate, messageIdStamp } from '../../global/mail-date.js';
import type { CleanupSettings } from './cleanup-settings.js';

/** The main.cf values the header pass reads: declared once, in CleanupSettings. */
type HeaderRulesSettings = Pick<
  CleanupSettings,
  'fromFormat' | 'myhostname' | 'headerSizeLimit' | 'hopcountLimit' | 'tokenLimit' | 'dropHeaders' | 'undisclosedHeader'
>;

export interface HeaderRulesInput extends HeaderRulesSettings {
  readonly queueId: string;
  readonly arrivalTime: number;
  readonly sender: string;
  readonly fullName?: string;
  /** Local submission, local_header_rewrite_clients match, or always_add_missing_headers. */
  readonly addMissing: boolean;
  readonly checks?: CleanupContentChecks;
  readonly ctx: RewriteContext;
  /**
   * Headers address rewriting found to have fewer than tokenLimit tokens
   * (a prefix of one, as header_size_limit leaves, has no more): not counted again.
   */
  readonly tokensWithinLimit?: ReadonlySet<LogicalHeader>;
}

export interface HeaderRulesResult {
  readonly headers: Buffer[];
  readonly tooManyHops: boolean;
  readonly reject?: SmtpReply;
  readonly discard?: string;
  readonly hold?: string;
  /** Lines to log after `QUEUEID: ` (message-id=, hold:, ...). */
  readonly log: string[];
}

/** Log-safe: control characters escaped, length bounded. */
export function printable(s: string, max = 200): string {
  const t = s.length > max ? s.slice(0, max) : s;
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function line(text: string): Buffer {
  return Buffer.from(`${text}\r\n`, 'utf8');
}

export async function applyHeaderRules(
  input: HeaderRulesInput,
  parsed: readonly LogicalHeader[],
): Promise<HeaderRulesResult> {
  const out: Buffer[] = [];
  const log: string[] = [];
  const seen = new Set<string>();
  let hops = 0;
  let hold: string | undefined;

  for (const original of parsed) {
    let h = limitHeader(original, input.headerSizeLimit);
    if (input.checks) {
      const v = await input.checks.header(headerText(h), input.ctx);
      const what = printable(headerText(h));
      if (v.action === 'reject') {
        log.push(
          `reject: header ${what}; from=<${printable(input.sender)}>: ${v.reply.dsn} ${printable(v.reply.text)}`,
        );
        return { headers: [], tooManyHops: false, reject: v.reply, log };
      }
      if (v.action === 'discard') {
        log.push(`discard: header ${what}; from=<${printable(input.sender)}>: ${printable(v.text)}`);
        return { headers: [], tooManyHops: false, discard: v.text, log };
      }
      if (v.action === 'hold') {
        log.push(`hold: header ${what}; from=<${printable(input.sender)}>: ${printable(v.text)}`);
        hold ??= v.text;
      }
      if (v.action === 'ignore') continue;
      if (v.action === 'replace') {
        const name = /^([^:]+):/.exec(v.text)?.[1] ?? h.name;
        h = { name, lname: name.toLowerCase(), raw: line(v.text) };
      }
    }
    if (h.lname === 'received' && ++hops >= input.hopcountLimit && input.hopcountLimit > 0) {
      log.push('message rejected: hopcount exceeded');
      return { headers: [], tooManyHops: true, log };
    }
    seen.add(h.lname);
    if (input.dropHeaders.has(h.lname)) continue;
    if (h.lname === 'message-id' || h.lname === 'resent-message-id') {
      log.push(`${h.lname}=${printable(headerValue(h))}`);
    }
    if (
      ADDRESS_HEADERS.has(h.lname) &&
      input.tokenLimit > 0 &&
      h.rebuilt !== true &&
      input.tokensWithinLimit?.has(original) !== true
    ) {
      const text = h.raw.toString('utf8');
      const colon = text.indexOf(':');
      const cut = tokenLimitCut(text.slice(colon + 1), input.tokenLimit);
      if (cut !== undefined) h = { ...h, raw: line(text.slice(0, colon + 1 + cut).replace(/\r?\n$/, '')) };
    }
    out.push(h.raw);
  }

  // Missing headers: with any Resent- header present the Resent- forms are the ones that must exist.
  const resent = [...seen].some((n) => n.startsWith('resent-'));
  const prefix = resent ? 'Resent-' : '';
  const has = (name: string): boolean => seen.has(`${prefix}${name}`.toLowerCase());
  let plainMessageId = seen.has('message-id');
  if (!has('Message-Id') && input.addMissing) {
    const id = `<${messageIdStamp(input.arrivalTime)}.${input.queueId}@${input.myhostname}>`;
    out.push(line(`${prefix}Message-Id: ${id}`));
    log.push(`${prefix.toLowerCase()}message-id=${id}`);
    if (!resent) plainMessageId = true;
  }
  // Log analyzers expect a message-id= line for every message, even an empty one.
  if (!plainMessageId) log.push('message-id=<>');
  if (input.addMissing && !has('Date')) out.push(line(`${prefix}Date: ${mailDate(input.arrivalTime)}`));
  if (input.addMissing && !has('From')) {
    const addr = input.sender === '' ? 'MAILER-DAEMON' : input.sender;
    const name = input.fullName;
    const from = !name
      ? addr
      : input.fromFormat === 'obsolete'
        ? `${addr} (${name.replace(/[()\\\r\n]/g, ' ')})`
        : `${quotePhrase(name)} <${addr}>`;
    out.push(line(`${prefix}From: ${from}`));
  }
  if (input.addMissing && input.undisclosedHeader !== '' && !has('To') && !has('Cc')) {
    out.push(line(input.undisclosedHeader));
  }
  return hold === undefined
    ? { headers: out, tooManyHops: false, log }
    : { headers: out, tooManyHops: false, hold, log };
}

/** A display name as an RFC 5322 phrase: quoted when it holds specials. */
function quotePhrase(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\r\n\x00]/g, ' ');
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(clean) ? clean : `"${clean.replace(/(["\\])/g, '\\$1')}"`;
}
