// Whether a queued message's header section contains UTF-8: with "SMTPUTF8
// requested" (the client asked, or cleanup's smtputf8_autodetect_classes
// found UTF-8) and a server that does not offer SMTPUTF8, UTF-8 headers make
// the message undeliverable there just as a UTF-8 envelope address does.
// Read only on that rare path; the body is never looked at.
import type { DeliveryRequest } from '../../global/queue/delivery-api.js';

/** Header sections longer than this are not searched further (header_size_limit is far below it). */
const SCAN_LIMIT = 1024 * 1024;

export async function headersHaveUtf8(req: Pick<DeliveryRequest, 'openContent'>): Promise<boolean> {
  let seen = 0;
  let last = 0x0a; // the previous byte (as if after a line end), to find an empty line across chunk boundaries
  let lineStart = true;
  for await (const chunk of req.openContent()) {
    for (const b of chunk) {
      if (b > 0x7f) return true;
      if (b === 0x0a) {
        // An empty line (LF or CRLF right after the previous line's end) ends the headers.
        if (lineStart) return false;
        lineStart = true;
      } else if (!(b === 0x0d && lineStart && last === 0x0a)) lineStart = false;
      last = b;
      if (++seen >= SCAN_LIMIT) return false;
    }
  }
  return false;
}
