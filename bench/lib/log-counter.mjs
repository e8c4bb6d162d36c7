// Counts delivery outcomes in a growing maillog_file (status=sent, and
// deferred/bounced as failures), reading only the bytes added since the last
// call, so the harness knows when a Postfix-style server has delivered or
// discarded every message of a run.
import { open } from 'node:fs/promises';

export class LogCounter {
  constructor(file) {
    this.file = file;
    this.offset = 0;
    this.rest = '';
    this.sent = 0;
    this.failed = 0;
    this.lastFailure = '';
  }

  /** Counts from here on (after a warm-up), still reading only new bytes. */
  reset() {
    this.sent = 0;
    this.failed = 0;
    this.lastFailure = '';
  }

  async poll() {
    const fh = await open(this.file, 'r').catch(() => undefined);
    if (!fh) return this;
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const lines = (this.rest + buf.toString('latin1', 0, bytesRead)).split('\n');
        this.rest = lines.pop() ?? '';
        for (const l of lines) {
          if (l.includes(' status=sent ')) this.sent++;
          else if (/ status=(deferred|bounced) /.test(l)) {
            this.failed++;
            this.lastFailure = l;
          }
        }
      }
    } finally {
      await fh.close();
    }
    return this;
  }
}
