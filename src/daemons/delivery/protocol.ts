// The messages on the core ↔ delivery channel (docs/ARCHITECTURE.md,
// "Processes and privileges"): qmgr's delivery requests for local, virtual
// and pipe go to the privileged delivery process, which pulls the content in
// chunks and may call back for what only the core worker has (trivial-rewrite,
// cleanup for forwarded copies, other transports). One discriminated union
// per direction; the decoders accept exactly these shapes with bounded
// strings and arrays, so a hostile core cannot steer root outside "deliver
// this message to these recipients of this hosted service".
import type { DsnNotify } from '../../global/queue/cleanup-api.js';
import type { DeliveryStatus } from '../../global/queue/delivery-api.js';
import { isObject } from '../../util/is-object.js';

/** Most bytes of content per data frame. */
export const CHUNK_BYTES = 64 * 1024;
/** Frames the core sends: requests and content chunks. */
export const MAX_FRAME_TO_DELIVERY = 4 * 1024 * 1024;
/** Frames the delivery process sends: outcomes and calls, no content. */
export const MAX_FRAME_TO_CORE = 4 * 1024 * 1024;
const MAX_RECIPIENTS = 10_000;
const MAX_ADDRESS = 2048;
const MAX_TEXT = 8192;

export interface WireRecipient {
  readonly address: string;
  readonly original: string;
  readonly orcpt?: string;
  readonly notify?: DsnNotify[];
  readonly index: number;
}

/** A DeliveryRequest without its content stream. */
export interface WireRequest {
  readonly queueId: string;
  readonly transport: string;
  readonly nexthop: string;
  readonly sender: string;
  readonly recipients: WireRecipient[];
  readonly arrivalTime: number;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  readonly size: number;
  readonly client?: { readonly name: string; readonly addr: string; readonly helo: string };
  readonly verifyOnly?: boolean;
}

export interface WireOutcome {
  readonly index: number;
  readonly status: DeliveryStatus;
  readonly dsn: string;
  readonly relay: string;
  readonly reason: string;
  readonly remoteReply?: string;
}

export type ToDelivery =
  /** `inline`: the frame's bytes are the whole content (small messages), so no `read` round trips are needed. */
  | {
      readonly t: 'deliver';
      readonly id: number;
      readonly service: string;
      readonly req: WireRequest;
      readonly inline?: true;
    }
  /** A content chunk (the frame's bytes) for stream `stream` of delivery `id`. */
  | { readonly t: 'data'; readonly id: number; readonly stream: number }
  | { readonly t: 'eof'; readonly id: number; readonly stream: number }
  | { readonly t: 'fail'; readonly id: number; readonly stream: number; readonly reason: string }
  | { readonly t: 'local'; readonly call: number; readonly value: boolean }
  | {
      readonly t: 'result';
      readonly call: number;
      readonly status: DeliveryStatus;
      readonly dsn: string;
      readonly reason: string;
    };

export type ToCore =
  | { readonly t: 'read'; readonly id: number; readonly stream: number }
  | { readonly t: 'close'; readonly id: number; readonly stream: number }
  | { readonly t: 'isLocal'; readonly id: number; readonly call: number; readonly address: string }
  | {
      readonly t: 'forward';
      readonly id: number;
      readonly call: number;
      readonly index: number;
      readonly sender: string;
      readonly addresses: string[];
      readonly addDeliveredTo: boolean;
    }
  | {
      readonly t: 'pass';
      readonly id: number;
      readonly call: number;
      readonly transport: string;
      readonly nexthop: string;
      readonly index: number;
      readonly address: string;
    }
  | { readonly t: 'done'; readonly id: number; readonly outcomes: WireOutcome[] };

type Obj = Record<string, unknown>;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const opt = (o: Obj, k: string, ok: (v: unknown) => boolean): boolean => !(k in o) || ok(o[k]);
/** Exactly the required keys, plus any of the optional ones. */
function keys(o: Obj, required: string[], optional: string[] = []): boolean {
  const ks = Object.keys(o);
  return required.every((k) => k in o) && ks.every((k) => required.includes(k) || optional.includes(k));
}
const STATUSES: readonly string[] = ['sent', 'deferred', 'bounced'];
const NOTIFY: readonly string[] = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'];
const isDsn = (v: unknown): v is string => typeof v === 'string' && /^[245]\.\d{1,3}\.\d{1,3}$/.test(v);
const noControls = (v: unknown, max: number): v is string => str(v, max) && !/[\0\r\n]/.test(v);

function isRecipient(v: unknown): v is WireRecipient {
  return (
    isObject(v) &&
    keys(v, ['address', 'original', 'index'], ['orcpt', 'notify']) &&
    noControls(v.address, MAX_ADDRESS) &&
    noControls(v.original, MAX_ADDRESS) &&
    count(v.index) &&
    opt(v, 'orcpt', (x) => noControls(x, MAX_ADDRESS)) &&
    opt(v, 'notify', (x) => Array.isArray(x) && x.length <= 4 && x.every((n) => NOTIFY.includes(n as string)))
  );
}

function isRequest(v: unknown): v is WireRequest {
  if (!isObject(v)) return false;
  const client = (c: unknown): boolean =>
    isObject(c) &&
    keys(c, ['name', 'addr', 'helo']) &&
    noControls(c.name, 1024) &&
    noControls(c.addr, 128) &&
    noControls(c.helo, 1024);
  return (
    keys(
      v,
      ['queueId', 'transport', 'nexthop', 'sender', 'recipients', 'arrivalTime', 'size'],
      ['envid', 'ret', 'body', 'smtputf8', 'client', 'verifyOnly'],
    ) &&
    typeof v.queueId === 'string' &&
    /^[0-9A-Za-z]{1,64}$/.test(v.queueId) &&
    noControls(v.transport, 256) &&
    noControls(v.nexthop, 1024) &&
    noControls(v.sender, MAX_ADDRESS) &&
    Array.isArray(v.recipients) &&
    v.recipients.length >= 1 &&
    v.recipients.length <= MAX_RECIPIENTS &&
    v.recipients.every(isRecipient) &&
    count(v.arrivalTime) &&
    count(v.size) &&
    opt(v, 'envid', (x) => noControls(x, 1024)) &&
    opt(v, 'ret', (x) => x === 'FULL' || x === 'HDRS') &&
    opt(v, 'body', (x) => x === '7BIT' || x === '8BITMIME' || x === 'BINARYMIME') &&
    opt(v, 'smtputf8', (x) => typeof x === 'boolean') &&
    opt(v, 'verifyOnly', (x) => typeof x === 'boolean') &&
    opt(v, 'client', client)
  );
}

function isOutcome(v: unknown): v is WireOutcome {
  return (
    isObject(v) &&
    keys(v, ['index', 'status', 'dsn', 'relay', 'reason'], ['remoteReply']) &&
    count(v.index) &&
    STATUSES.includes(v.status as string) &&
    isDsn(v.dsn) &&
    str(v.relay, 1024) &&
    str(v.reason, MAX_TEXT) &&
    opt(v, 'remoteReply', (x) => str(x, MAX_TEXT))
  );
}

/** What the delivery process accepts from the core; undefined for anything else. */
export function decodeToDelivery(v: unknown): ToDelivery | undefined {
  if (!isObject(v)) return undefined;
  switch (v.t) {
    case 'deliver':
      return keys(v, ['t', 'id', 'service', 'req'], ['inline']) &&
        count(v.id) &&
        noControls(v.service, 256) &&
        isRequest(v.req) &&
        opt(v, 'inline', (x) => x === true)
        ? (v as ToDelivery)
        : undefined;
    case 'data':
    case 'eof':
      return keys(v, ['t', 'id', 'stream']) && count(v.id) && count(v.stream) ? (v as ToDelivery) : undefined;
    case 'fail':
      return keys(v, ['t', 'id', 'stream', 'reason']) && count(v.id) && count(v.stream) && str(v.reason, MAX_TEXT)
        ? (v as ToDelivery)
        : undefined;
    case 'local':
      return keys(v, ['t', 'call', 'value']) && count(v.call) && typeof v.value === 'boolean'
        ? (v as ToDelivery)
        : undefined;
    case 'result':
      return keys(v, ['t', 'call', 'status', 'dsn', 'reason']) &&
        count(v.call) &&
        STATUSES.includes(v.status as string) &&
        isDsn(v.dsn) &&
        str(v.reason, MAX_TEXT)
        ? (v as ToDelivery)
        : undefined;
    default:
      return undefined;
  }
}

/** What the core accepts from the delivery process. */
export function decodeToCore(v: unknown): ToCore | undefined {
  if (!isObject(v)) return undefined;
  switch (v.t) {
    case 'read':
    case 'close':
      return keys(v, ['t', 'id', 'stream']) && count(v.id) && count(v.stream) ? (v as ToCore) : undefined;
    case 'isLocal':
      return keys(v, ['t', 'id', 'call', 'address']) && count(v.id) && count(v.call) && str(v.address, MAX_ADDRESS)
        ? (v as ToCore)
        : undefined;
    case 'forward':
      return keys(v, ['t', 'id', 'call', 'index', 'sender', 'addresses', 'addDeliveredTo']) &&
        count(v.id) &&
        count(v.call) &&
        count(v.index) &&
        str(v.sender, MAX_ADDRESS) &&
        Array.isArray(v.addresses) &&
        v.addresses.length >= 1 &&
        v.addresses.length <= MAX_RECIPIENTS &&
        v.addresses.every((a) => noControls(a, MAX_ADDRESS)) &&
        typeof v.addDeliveredTo === 'boolean'
        ? (v as ToCore)
        : undefined;
    case 'pass':
      return keys(v, ['t', 'id', 'call', 'transport', 'nexthop', 'index', 'address']) &&
        count(v.id) &&
        count(v.call) &&
        noControls(v.transport, 256) &&
        noControls(v.nexthop, 1024) &&
        count(v.index) &&
        noControls(v.address, MAX_ADDRESS)
        ? (v as ToCore)
        : undefined;
    case 'done':
      return keys(v, ['t', 'id', 'outcomes']) &&
        count(v.id) &&
        Array.isArray(v.outcomes) &&
        v.outcomes.length <= MAX_RECIPIENTS &&
        v.outcomes.every(isOutcome)
        ? (v as ToCore)
        : undefined;
    default:
      return undefined;
  }
}
