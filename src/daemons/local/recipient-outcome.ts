// Small pieces local(8) needs around a delivery: folding the deliveries one
// queue recipient expanded into (aliases, .forward) into the single outcome
// qmgr records, address qualification, and the directory facts that decide
// a command's working directory and the spool group.
import { statSync } from 'node:fs';
import { splitAddress } from '../../global/addr/address.js';
import type { DeliveryRequest, RecipientOutcome } from '../../global/queue/delivery-api.js';

/** One delivery made (or refused) for an expanded address. */
export interface Leaf {
  readonly status: 'sent' | 'deferred' | 'bounced';
  readonly dsn: string;
  readonly reason: string;
}

/** One outcome per queue recipient: any deferral defers it (all of it is retried), else a bounce is reported. */
export function summarise(index: number, leaves: readonly Leaf[], duplicate = false): RecipientOutcome {
  const pick = leaves.find((l) => l.status === 'deferred') ?? leaves.find((l) => l.status === 'bounced') ?? leaves[0];
  // Everything it expanded to was delivered already for another recipient of this request.
  if (!pick && duplicate)
    return { index, status: 'sent', dsn: '2.0.0', relay: 'local', reason: 'delivered (duplicate)' };
  if (!pick) return { index, status: 'deferred', dsn: '4.3.0', relay: 'local', reason: 'no delivery was made' };
  return { index, status: pick.status, dsn: pick.dsn, relay: 'local', reason: pick.reason };
}

export function qualify(address: string, myorigin: string): string {
  return splitAddress(address).hasAt ? address : `${address}@${myorigin}`;
}

export function existingDir(dir: string, fallback = '/'): string {
  try {
    if (dir && statSync(dir).isDirectory()) return dir;
  } catch {
    // fall through
  }
  return fallback;
}

/** The spool directory's group when only that group may write there (not world-writable). */
export function spoolGroup(dir: string): number | undefined {
  try {
    const st = statSync(dir);
    if (st.mode & 0o002) return undefined;
    if (st.mode & 0o020) return st.gid;
  } catch {
    // a missing spool directory fails in the helper with a clear message
  }
  return undefined;
}

export async function readAll(req: DeliveryRequest): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of req.openContent()) parts.push(b);
  return Buffer.concat(parts);
}
