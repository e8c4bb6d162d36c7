// Start-up recovery: read one segment file record by record and hand each
// valid record to the index builder. Damage never stops the scan: a byte range
// that does not frame and checksum as records is copied to
// `$queue_directory/corrupt/` and logged, and scanning resumes at the next
// valid record. Damage that runs to the end of the file (a write torn by a
// crash or power loss) is copied aside and the file truncated there, so
// later runs start clean. Postfix's equivalent is moving an unreadable queue
// file to the `corrupt` queue.
import { open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import {
  checkFrame,
  checkSegmentHeader,
  decodeRecord,
  RECORD_MAGIC,
  SEGMENT_HEADER_SIZE,
  segmentHeader,
  type DecodedRecord,
} from './record-format.js';
import { segmentFileName } from './segment-writer.js';

export interface ReplayResult {
  /** Bytes of the file that are intact records (after any truncation). */
  readonly size: number;
  readonly damagedRanges: number;
}

/** Next offset after `from` where a record frames and checksums correctly. */
function resync(buf: Buffer, from: number): number | undefined {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(RECORD_MAGIC, 0);
  let at = buf.indexOf(magic, from + 1);
  while (at >= 0) {
    if (checkFrame(buf, at).ok) return at;
    at = buf.indexOf(magic, at + 1);
  }
  return undefined;
}

export async function replaySegment(
  dir: string,
  segment: number,
  corruptDir: string,
  log: Logger,
  onRecord: (rec: DecodedRecord, recordOffset: number) => void,
): Promise<ReplayResult> {
  const name = segmentFileName(segment);
  const path = join(dir, name);
  const buf = await readFile(path);
  let damagedRanges = 0;

  const setAside = async (from: number, to: number, why: string): Promise<void> => {
    damagedRanges++;
    const saved = `${name}.${from}`;
    await writeFile(join(corruptDir, saved), buf.subarray(from, to), { mode: 0o600 });
    log.warning(
      `queue segment ${name}: damaged data at offset ${from} (${why}): ${to - from} bytes saved as corrupt/${saved}`,
    );
  };

  if (buf.length < SEGMENT_HEADER_SIZE) {
    // Torn before its header was synced: nothing in it was ever acknowledged.
    if (buf.length > 0) await setAside(0, buf.length, 'torn segment header');
    await truncate(path, 0);
    return { size: 0, damagedRanges };
  }
  if (checkSegmentHeader(buf) !== segment) {
    // The file name says which segment this is; keep the records behind a
    // damaged header and write the header back.
    await setAside(0, SEGMENT_HEADER_SIZE, 'bad segment header');
    const fh = await open(path, 'r+');
    try {
      await fh.write(segmentHeader(segment), 0, SEGMENT_HEADER_SIZE, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  let off = SEGMENT_HEADER_SIZE;
  while (off < buf.length) {
    const f = checkFrame(buf, off);
    if (f.ok) {
      const rec = decodeRecord(buf, f.payloadStart, f.end);
      if (typeof rec === 'string') {
        await setAside(off, f.end, rec);
      } else {
        onRecord(rec, off);
      }
      off = f.end;
      continue;
    }
    const next = resync(buf, off);
    if (next === undefined) {
      await setAside(off, buf.length, f.reason === 'short' ? 'torn final record' : f.reason);
      await truncate(path, off);
      return { size: off, damagedRanges };
    }
    await setAside(off, next, f.reason);
    off = next;
  }
  return { size: off, damagedRanges };
}
