// Messages between master and its workers (core, delivery) over the child_process IPC
// channel. A discriminated union per direction; decoders reject anything that
// is not exactly one of these shapes, so a confused peer is logged, not obeyed.
import type { MasterEntry, ServiceType } from '../../global/mastercf/types.js';
import { isObject } from '../../util/is-object.js';

/** Environment variable naming the worker's descriptor for maillog_file (opened by master). */
export const ENV_MAILLOG_FD = 'POSTERN_MAILLOG_FD';
/** ... and the maillog_file path that descriptor belongs to (a reload may name another file). */
export const ENV_MAILLOG_FILE = 'POSTERN_MAILLOG_FILE';

/** A MasterEntry in a form that survives JSON (overrides as pairs). */
export interface WireEntry {
  readonly name: string;
  readonly type: ServiceType;
  readonly columns: [string, string, string, string, string];
  readonly private: boolean;
  readonly unpriv: boolean;
  readonly chroot: boolean;
  readonly wakeup: number;
  readonly wakeupConditional: boolean;
  readonly maxproc: number;
  readonly command: string;
  readonly args: string[];
  readonly overrides: [string, string][];
  readonly line: number;
}

export type MasterToWorker =
  /** Start or reconfigure: the full entry list; inet entries' sockets arrive as `listener` messages first. */
  | { readonly type: 'configure'; readonly configDir: string; readonly entries: WireEntry[]; readonly reload: boolean }
  /** One listening socket (the handle rides along) for the entry `service` (`name/type`). */
  | { readonly type: 'listener'; readonly service: string; readonly endpoint: string }
  /** The channel between the core worker and the delivery process (the socket rides along); replaces any earlier one. */
  /** `peer: 'smtpd'`: the channel between the core worker and the smtpd worker (cleanup requests) instead. */
  | { readonly type: 'channel'; readonly peer?: 'smtpd' }
  | { readonly type: 'stop'; readonly graceful: boolean };

export type WorkerToMaster =
  /** `closed`: inet services whose sockets the worker closed because nothing serves them. */
  | { readonly type: 'ready'; readonly started: number; readonly skipped: number; readonly closed: string[] }
  | { readonly type: 'stopped' };

export function toWire(e: MasterEntry): WireEntry {
  return { ...e, columns: [...e.columns], args: [...e.args], overrides: [...e.overrides] };
}

export function fromWire(w: WireEntry): MasterEntry {
  return { ...w, overrides: new Map(w.overrides) };
}

const keysAre = (o: Record<string, unknown>, keys: string[]): boolean =>
  Object.keys(o).length === keys.length && keys.every((k) => k in o);

function isWireEntry(v: unknown): v is WireEntry {
  if (!isObject(v)) return false;
  return (
    typeof v.name === 'string' &&
    typeof v.type === 'string' &&
    typeof v.command === 'string' &&
    typeof v.line === 'number' &&
    Array.isArray(v.columns) &&
    Array.isArray(v.args) &&
    v.args.every((a) => typeof a === 'string') &&
    Array.isArray(v.overrides) &&
    v.overrides.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string'))
  );
}

export function decodeMasterMessage(v: unknown): MasterToWorker | undefined {
  if (!isObject(v)) return undefined;
  switch (v.type) {
    case 'configure':
      return keysAre(v, ['type', 'configDir', 'entries', 'reload']) &&
        typeof v.configDir === 'string' &&
        typeof v.reload === 'boolean' &&
        Array.isArray(v.entries) &&
        v.entries.every(isWireEntry)
        ? (v as MasterToWorker)
        : undefined;
    case 'listener':
      return keysAre(v, ['type', 'service', 'endpoint']) &&
        typeof v.service === 'string' &&
        typeof v.endpoint === 'string'
        ? (v as MasterToWorker)
        : undefined;
    case 'channel':
      return keysAre(v, ['type']) || (keysAre(v, ['type', 'peer']) && v.peer === 'smtpd')
        ? (v as MasterToWorker)
        : undefined;
    case 'stop':
      return keysAre(v, ['type', 'graceful']) && typeof v.graceful === 'boolean' ? (v as MasterToWorker) : undefined;
    default:
      return undefined;
  }
}

export function decodeWorkerMessage(v: unknown): WorkerToMaster | undefined {
  if (!isObject(v)) return undefined;
  if (
    v.type === 'ready' &&
    keysAre(v, ['type', 'started', 'skipped', 'closed']) &&
    typeof v.started === 'number' &&
    typeof v.skipped === 'number' &&
    Array.isArray(v.closed) &&
    v.closed.every((c) => typeof c === 'string')
  )
    return v as WorkerToMaster;
  if (v.type === 'stopped' && keysAre(v, ['type'])) return v as WorkerToMaster;
  return undefined;
}
