// smtp_generic_maps / lmtp_generic_maps (generic(5), ADDRESS_REWRITING_README
// "Generic mapping for outgoing SMTP mail"): as mail leaves through smtp(8)
// or lmtp(8), the envelope sender, the envelope recipients and the addresses
// in the primary message headers are replaced by what the table says. The
// queue file is not changed; only what goes on the wire.
//
// Key order as generic(5): `user@domain`, `user` (only for $myorigin,
// $mydestination and our interface literals), `@domain`; with
// recipient_delimiter, the address without its extension is tried after the
// full one. A result `@otherdomain` keeps the user. An unmatched extension is
// carried over only when propagate_unmatched_extensions names `generic`.
import { splitList } from '../../global/params/config.js';
import type { Dict } from '../../global/dict/dict-api.js';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { DeliveryRequest } from '../../global/queue/delivery-api.js';
import { splitAddress } from '../trivial-rewrite/address.js';
import { addressKeys, LocalDomains } from './addr-keys.js';
import { findAddresses, rewriteAddresses } from './header-addresses.js';
import { paramName, type Protocol } from './settings.js';
import type { OpenDict } from './tls-policy.js';

/** Address headers whose addresses are mapped (Postfix's sender and recipient header classes). */
const MAPPED_HEADERS: ReadonlySet<string> = new Set([
  'from',
  'sender',
  'reply-to',
  'return-path',
  'errors-to',
  'return-receipt-to',
  'disposition-notification-to',
  'resent-from',
  'resent-sender',
  'resent-reply-to',
  'to',
  'cc',
  'bcc',
  'apparently-to',
  'resent-to',
  'resent-cc',
  'resent-bcc',
]);

/** A header section larger than this is sent as it is (a bound, not a Postfix limit). */
const HEADER_SECTION_LIMIT = 4 * 1024 * 1024;

export class GenericMapper {
  readonly param: string;
  private readonly specs: readonly string[];
  private dicts: Promise<Dict[]> | undefined;
  private readonly localDomains: LocalDomains | undefined;
  private readonly delimiters: string;
  private readonly propagate: boolean;

  constructor(
    config: ParamReader,
    protocol: Protocol,
    private readonly openDict: OpenDict | undefined,
    private readonly log: Logger,
  ) {
    this.param = paramName(protocol, 'generic_maps');
    this.specs = config.list(this.param);
    this.delimiters = config.get('recipient_delimiter');
    this.localDomains = openDict ? new LocalDomains(config, openDict) : undefined;
    this.propagate = config
      .list('propagate_unmatched_extensions')
      .map((s) => s.toLowerCase())
      .includes('generic');
  }

  get enabled(): boolean {
    return this.specs.length > 0 && this.openDict !== undefined;
  }

  /**
   * The request as it goes on the wire. Table failures throw DictRetryError
   * before anything is sent, so the caller can defer the whole request.
   */
  async mapRequest(req: DeliveryRequest): Promise<DeliveryRequest> {
    if (!this.enabled) return req;
    const cache = new Map<string, string | undefined>();
    const map = async (a: string): Promise<string | undefined> => {
      const key = a.toLowerCase();
      if (!cache.has(key)) cache.set(key, await this.lookup(a));
      return cache.get(key);
    };
    const sender = req.sender === '' ? '' : ((await map(req.sender)) ?? req.sender);
    const recipients = [];
    for (const r of req.recipients) recipients.push({ ...r, address: (await map(r.address)) ?? r.address });
    const headers = await this.mapHeaders(req, map);
    return {
      ...req,
      sender,
      recipients,
      ...(headers
        ? {
            size: req.size - headers.oldBytes + headers.replacement.length,
            openContent: () => replaceHead(req.openContent(), headers.replacement, headers.oldBytes),
          }
        : {}),
    };
  }

  /** The new header section, or undefined when no header address changes. */
  private async mapHeaders(
    req: DeliveryRequest,
    map: (a: string) => Promise<string | undefined>,
  ): Promise<{ replacement: Buffer; oldBytes: number } | undefined> {
    const head = await readHeaderSection(req.openContent());
    if (!head) return undefined;
    const encoding: BufferEncoding = req.smtputf8 ? 'utf8' : 'latin1';
    const found = new Map<string, string | undefined>();
    for (const h of head.headers) {
      if (!MAPPED_HEADERS.has(h.name)) continue;
      for (const span of findAddresses(h.value(encoding))) {
        if (!found.has(span.address)) found.set(span.address, await map(span.address));
      }
    }
    if (![...found.values()].some((v) => v !== undefined)) return undefined;
    const parts: Buffer[] = [];
    for (const h of head.headers) {
      const r = MAPPED_HEADERS.has(h.name)
        ? rewriteAddresses(h.value(encoding), (a) => found.get(a))
        : { value: '', changed: false };
      parts.push(r.changed ? Buffer.from(`${h.rawName}:${r.value}\r\n`, encoding) : h.raw);
    }
    return { replacement: Buffer.concat(parts), oldBytes: head.bytes };
  }

  /** One address through the tables; undefined when no key matches. */
  async lookup(address: string): Promise<string | undefined> {
    this.dicts ??= Promise.all(this.specs.map((s) => (this.openDict as OpenDict)(s)));
    const dicts = await this.dicts;
    const keys = await addressKeys(address, this.delimiters, this.localDomains as LocalDomains);
    for (const { key, ext } of keys) {
      for (const d of dicts) {
        const v = await d.lookup(key);
        if (v === undefined) continue;
        return this.result(v, address, ext);
      }
    }
    return undefined;
  }

  private result(value: string, address: string, ext: string): string | undefined {
    const items = splitList(value);
    const first = items[0];
    if (first === undefined) return undefined;
    if (items.length > 1) this.log.warning(`${this.param}: multi-valued entry for address ${address}; using ${first}`);
    if (first.startsWith('@')) {
      // The same user in another domain; a stripped extension is dropped unless propagated.
      const user = splitAddress(address).local;
      const base = ext ? user.slice(0, user.length - ext.length) : user;
      return `${base}${this.propagate ? ext : ''}${first}`;
    }
    if (!ext || !this.propagate) return first;
    const r = splitAddress(first);
    return r.domain === undefined ? `${r.local}${ext}` : `${r.local}${ext}@${r.domain}`;
  }
}

interface HeaderEntry {
  /** Lower-case name for matching. */
  readonly name: string;
  /** The name as written. */
  readonly rawName: string;
  /** The whole logical header as received, with its line ends. */
  readonly raw: Buffer;
  value(encoding: BufferEncoding): string;
}

/** The primary header section: logical headers up to the empty line (or the first line that is no header). */
async function readHeaderSection(
  chunks: AsyncIterable<Buffer>,
): Promise<{ headers: HeaderEntry[]; bytes: number } | undefined> {
  const lines: Buffer[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let bytes = 0;
  let done = false;
  for await (const chunk of chunks) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let nl: number;
    while (!done && (nl = buf.indexOf(0x0a)) >= 0) {
      const line = buf.subarray(0, nl + 1);
      buf = buf.subarray(nl + 1);
      const isEmpty = line.length <= 2 && (line[0] === 0x0d || line[0] === 0x0a);
      const continuation = line[0] === 0x20 || line[0] === 0x09;
      if (isEmpty || (!continuation && !/^[!-9;-~]+:/.test(line.toString('latin1')))) done = true;
      else if (continuation && lines.length === 0) done = true;
      else {
        lines.push(line);
        bytes += line.length;
      }
    }
    if (done) break;
    if (bytes + buf.length > HEADER_SECTION_LIMIT) return undefined;
  }
  // A message that is all headers, ending without a line end: leave it as it is.
  if (lines.length === 0) return undefined;
  const headers: HeaderEntry[] = [];
  let group: Buffer[] = [];
  const close = (): void => {
    if (group.length === 0) return;
    const raw = Buffer.concat(group);
    const colon = raw.indexOf(0x3a);
    const rawName = raw.subarray(0, colon).toString('latin1');
    headers.push({
      name: rawName.trim().toLowerCase(),
      rawName,
      raw,
      // The value keeps its folding; the final line end is added back when written.
      value: (encoding) =>
        raw
          .subarray(colon + 1)
          .toString(encoding)
          .replace(/\r?\n$/, ''),
    });
    group = [];
  };
  for (const line of lines) {
    if (line[0] !== 0x20 && line[0] !== 0x09) close();
    group.push(line);
  }
  close();
  return { headers, bytes };
}

/** The content with its first `skip` bytes replaced by `head`. */
async function* replaceHead(chunks: AsyncIterable<Buffer>, head: Buffer, skip: number): AsyncGenerator<Buffer> {
  yield head;
  let left = skip;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}
