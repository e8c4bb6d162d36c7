// How qmgr finds delivery agents: each master.cf entry whose command is a
// delivery agent (smtp, lmtp, error, discard, local, virtual, pipe) publishes
// a TransportService under its service name, as Postfix's qmgr connects to
// private/<transport>. A transport without an entry has no agent, and qmgr
// defers its mail with `mail transport unavailable`, as Postfix does.
import { serviceKey, type ServiceKey } from '../service/directory.js';
import type { MasterEntry } from '../mastercf/types.js';
import type { DeliveryAgent } from './delivery-api.js';

export interface TransportService {
  readonly agent: DeliveryAgent;
  /** master.cf maxproc: parallel deliveries for this transport; undefined = default_process_limit. */
  readonly maxproc?: number;
}

export function transportKey(service: string): ServiceKey<TransportService> {
  return serviceKey<TransportService>(`transport:${service}`);
}

/** Postfix treats maxproc 0 as "no limit"; qmgr still needs a number. */
const UNLIMITED = 10_000;

/** The maxproc a transport entry declares (`-` leaves default_process_limit in charge). */
export function entryMaxproc(entry: MasterEntry): number | undefined {
  if (entry.columns[4] === '-') return undefined;
  return entry.maxproc === 0 ? UNLIMITED : entry.maxproc;
}
