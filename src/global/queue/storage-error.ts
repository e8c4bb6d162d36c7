// Why a queue write failed, in the two kinds callers answer differently:
// `nospace` (ENOSPC, EDQUOT or below queue_minfree) becomes Postfix's
// "452 4.3.1 Insufficient system storage"; `io` (any other write or sync
// failure) becomes "451 4.3.0 Error: queue file write error". Either way the
// message was not accepted and nothing half-written remains visible.

export type QueueStorageErrorKind = 'nospace' | 'io';

export class QueueStorageError extends Error {
  override name = 'QueueStorageError';
  constructor(
    readonly kind: QueueStorageErrorKind,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** Classify a Node fs error raised while appending or syncing. */
export function storageErrorFrom(err: unknown, what: string): QueueStorageError {
  if (err instanceof QueueStorageError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new QueueStorageError('nospace', `${what}: ${detail}`, err);
  return new QueueStorageError('io', `${what}: ${detail}`, err);
}
