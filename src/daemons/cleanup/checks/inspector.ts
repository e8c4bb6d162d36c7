// One message's pass through header_checks, mime_header_checks,
// nested_header_checks and body_checks (cleanup(8)'s cleanup_message.c):
// every logical header and body line is looked up in the tables for its
// class, the action is logged and applied — edits (IGNORE, REPLACE,
// PREPEND) to a rebuilt copy of the content, envelope effects (REDIRECT,
// BCC, FILTER, HOLD) collected for the queue file — and REJECT, DISCARD or
// a MIME error ends the inspection.
import { DictRetryError } from '../../../global/dict/dict-api.js';
import type { Logger } from '../../../global/log/logger.js';
import { reply } from '../../../global/smtp/reply.js';
import type { LogicalHeader } from '../header-parse.js';
import type { ContentInspection, ContentInspectionInput, InspectionContext } from '../hooks.js';
import { WRITE_ERROR } from '../replies.js';
import { actionLogLine, mimeErrorLogLine } from './act-log.js';
import { parseAction } from './actions.js';
import { MIME_ERROR_TEXT, MimeScan, type HeaderClass, type MimeScanOptions, type PrimaryHeader } from './mime-scan.js';
import { MIME_HEADERS } from './mime-structure.js';
import type { CheckTables } from './tables.js';

export interface InspectorSettings {
  readonly tables: CheckTables;
  readonly scan: MimeScanOptions;
  readonly bodyLimit: number;
  readonly headerSizeLimit: number;
}

/** What a check asks to be done to the line it looked at. */
type Edit =
  | { readonly kind: 'keep' }
  | { readonly kind: 'remove' }
  | { readonly kind: 'replace'; readonly text: string }
  | { readonly kind: 'prepend'; readonly text: string };

const KEEP: Edit = { kind: 'keep' };
const CRLF = Buffer.from('\r\n');

class Stop extends Error {
  constructor(readonly result: ContentInspection) {
    super('inspection stopped');
  }
}

/** A header's text as checks see it: CRs dropped, folding kept as newlines, at most `limit` bytes. */
export function headerKey(raw: Buffer, limit: number): string {
  return raw
    .subarray(0, limit > 0 ? limit : raw.length)
    .toString('utf8')
    .replace(/\r\n/g, '\n')
    .replace(/\n$/, '');
}

/** Whether the body must be walked: body tables, MIME header tables with MIME processing on, or MIME errors to report. */
function needsWalk(s: InspectorSettings): boolean {
  return (
    s.tables.body.length > 0 ||
    (s.scan.mime && (s.tables.mime.length > 0 || s.tables.nested.length > 0)) ||
    s.scan.report.size > 0
  );
}

/**
 * Whether an inspection with these settings can only accept the message as
 * it is (no table to consult, no MIME walk): then cleanup need not run one.
 */
export function inspectsNothing(s: InspectorSettings): boolean {
  return !needsWalk(s) && s.tables.header.length === 0 && s.tables.mime.length === 0;
}

export class Inspector {
  private hold = false;
  private redirect: string | undefined;
  private filter: string | undefined;
  private readonly bcc: string[] = [];

  constructor(
    private readonly s: InspectorSettings,
    private readonly log: Logger,
    private readonly ctx: InspectionContext,
  ) {}

  async run(input: ContentInspectionInput): Promise<ContentInspection> {
    try {
      return await this.inspect(input);
    } catch (err) {
      if (err instanceof Stop) return err.result;
      throw err;
    }
  }

  private async inspect(input: ContentInspectionInput): Promise<ContentInspection> {
    const headers: LogicalHeader[] = [];
    const primary: PrimaryHeader[] = [];
    const needWalk = needsWalk(this.s);
    // Without header tables and without the MIME walk nothing looks at the header text.
    const headerText = needWalk || this.s.tables.header.length > 0 || this.s.tables.mime.length > 0;
    for (const h of input.headers) {
      if (!headerText) {
        headers.push(h);
        continue;
      }
      const text = headerKey(h.raw, this.s.headerSizeLimit);
      const colon = text.indexOf(':');
      primary.push({
        lname: h.lname,
        value: text
          .slice(colon + 1)
          .replace(/\n(?=[ \t])/g, '')
          .trim(),
        text,
      });
      const edit = await this.check(MIME_HEADERS.has(h.lname) ? 'multipart' : 'primary', text);
      if (edit.kind === 'prepend') headers.push(asHeader(edit.text), h);
      else if (edit.kind === 'replace') headers.push(asHeader(edit.text));
      else if (edit.kind === 'keep') headers.push(h);
    }
    const body = input.body;
    const out: Buffer[] = [];
    let copied = 0;
    const splice = (start: number, end: number, insert: Buffer[]): void => {
      if (start > copied) out.push(body.subarray(copied, start));
      out.push(...insert);
      copied = Math.max(copied, end);
    };
    if ((input.separator || body.length > 0) && this.s.tables.body.length > 0 && this.s.bodyLimit > 0) {
      // The empty line after the headers (or, like Postfix, the missing one
      // before a body) is the first line body_checks see; it cannot be edited.
      await this.check('body', '');
    }
    if (needWalk) {
      for (const ev of new MimeScan(body, this.s.scan).events(primary)) {
        if (ev.type === 'error') this.mimeError(MIME_ERROR_TEXT[ev.code], ev.text);
        else if (ev.type === 'header') {
          const edit = await this.check(ev.cls, ev.text);
          if (edit.kind === 'remove') splice(ev.start, ev.end, []);
          else if (edit.kind === 'replace') splice(ev.start, ev.end, [line(edit.text)]);
          else if (edit.kind === 'prepend') splice(ev.start, ev.start, [line(edit.text)]);
        } else if (ev.offset < this.s.bodyLimit && this.s.tables.body.length > 0) {
          const edit = await this.check('body', ev.text);
          if (edit.kind === 'remove') splice(ev.start, ev.eolEnd, []);
          else if (edit.kind === 'replace') {
            splice(ev.start, ev.end, [Buffer.from(edit.text, 'utf8')]);
          } else if (edit.kind === 'prepend') splice(ev.start, ev.start, [line(edit.text)]);
        }
      }
    }
    if (copied < body.length) out.push(body.subarray(copied));
    return {
      status: 'accept',
      headers,
      body: out,
      hold: this.hold,
      bcc: this.bcc,
      ...(this.redirect !== undefined ? { redirect: this.redirect } : {}),
      ...(this.filter !== undefined ? { filter: this.filter } : {}),
    };
  }

  private mimeError(error: string, content: string): never {
    this.log.info(mimeErrorLogLine(this.ctx, error, content));
    throw new Stop({ status: 'reject', reply: reply(550, '5.6.0', error) });
  }

  /** Look `key` up in the tables for `cls`, log and apply the action; the edit for the line. */
  private async check(cls: HeaderClass | 'body', key: string): Promise<Edit> {
    const list =
      cls === 'primary'
        ? this.s.tables.header
        : cls === 'multipart'
          ? this.s.tables.mime
          : cls === 'nested'
            ? this.s.tables.nested
            : this.s.tables.body;
    const mapName =
      cls === 'primary'
        ? 'header_checks'
        : cls === 'multipart'
          ? 'mime_header_checks'
          : cls === 'nested'
            ? 'nested_header_checks'
            : 'body_checks';
    if (list.length === 0) return KEEP;
    let value: string | undefined;
    try {
      for (const dict of list) {
        value = await dict.lookup(key);
        if (value !== undefined) break;
      }
    } catch (err) {
      if (!(err instanceof DictRetryError)) throw err;
      this.log.warning(`${this.ctx.queueId}: ${mapName} map lookup problem -- message not accepted, try again later`);
      throw new Stop({ status: 'reject', reply: WRITE_ERROR });
    }
    if (value === undefined) return KEEP;
    const isHeader = cls !== 'body';
    const { action, warning } = parseAction(value, isHeader, mapName);
    if (warning !== undefined) this.log.warning(warning);
    const what = isHeader ? 'header' : 'body';
    const logLine = (name: string, text: string): void => this.log.info(actionLogLine(this.ctx, name, what, key, text));
    switch (action.kind) {
      case 'reject':
        logLine('reject', `${action.reply.dsn} ${action.reply.text}`);
        throw new Stop({ status: 'reject', reply: action.reply });
      case 'discard':
        logLine('discard', action.text);
        throw new Stop({ status: 'discard' });
      case 'hold':
        logLine('hold', action.text);
        this.hold = true;
        return KEEP;
      case 'warn':
        logLine('warning', action.text);
        return KEEP;
      case 'info':
        logLine('info', action.text);
        return KEEP;
      case 'redirect':
        logLine('redirect', action.address);
        this.redirect = action.address;
        return KEEP;
      case 'filter':
        logLine('filter', action.nexthop);
        this.filter = action.nexthop;
        return KEEP;
      case 'bcc':
        if (!this.bcc.includes(action.address)) this.bcc.push(action.address);
        return KEEP;
      case 'ignore':
        return { kind: 'remove' };
      case 'replace':
        return { kind: 'replace', text: action.text };
      case 'prepend':
        return { kind: 'prepend', text: action.text };
      case 'dunno':
        return KEEP;
    }
  }
}

function line(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), CRLF]);
}

function asHeader(text: string): LogicalHeader {
  const name = /^([^:]+?)[ \t]*:/.exec(text)?.[1] ?? text;
  return { name, lname: name.toLowerCase(), raw: line(text) };
}
