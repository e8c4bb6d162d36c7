// STARTTLS (RFC 3207). The TLS area supplies the handshake through the
// StartTlsHook; without it the command is not implemented, as in a
// Postfix built without TLS. Plaintext pipelined behind STARTTLS is never
// carried into the TLS session (CVE-2011-0411): the reader is rebound and
// its buffer dropped, and the pipelining check runs first.
import type { SmtpdCommand } from '../types.js';

export const STARTTLS: SmtpdCommand = {
  name: 'STARTTLS',
  last: true,
  junk: false,
  async run(s, args) {
    const hook = s.deps.tls;
    if (!hook?.available()) {
      s.reply(502, '5.5.1', 'Error: command not implemented');
      return false;
    }
    if (args !== '') {
      s.reply(501, '5.5.4', 'Syntax: STARTTLS');
      return false;
    }
    if (s.tls) {
      s.reply(554, '5.5.1', 'Error: TLS already active');
      return false;
    }
    if (s.tx) {
      s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
      return false;
    }
    s.reply(220, '2.0.0', 'Ready to start TLS');
    await s.flush();
    try {
      const up = await hook.upgrade(s.socket);
      s.rebind(up.stream);
    } catch (e) {
      s.logger.warning(`TLS handshake failed for ${s.namaddr}: ${(e as Error).message}`);
      s.hangup();
      return false;
    }
    // RFC 3207 section 4.2: forget everything learned before the handshake.
    s.tls = true;
    s.helo = undefined;
    s.esmtp = false;
    s.pipeliningOffered = false;
    return true;
  },
};
