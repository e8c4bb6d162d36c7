// STARTTLS (RFC 3207). The TLS area supplies the handshake through the
// StartTlsHook; without it the command is not implemented, as in a
// Postfix built without TLS. Plaintext pipelined behind STARTTLS is never
// carried into the TLS session (CVE-2011-0411): the pipelining check runs
// first, and the reader is rebound with its buffer dropped. After the
// handshake everything learned in plaintext (HELO, PIPELINING) is forgotten.
import type { SmtpdCommand } from '../types.js';

export const STARTTLS: SmtpdCommand = {
  name: 'STARTTLS',
  last: true,
  junk: false,
  async run(s, args) {
    const hook = s.deps.tls;
    if (!hook) {
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
    if (!hook.available()) {
      // Postfix answers 454 when TLS is configured but cannot start (e.g. a certificate failed to load).
      if (hook.required?.()) s.reply(454, '4.7.0', 'TLS not available due to local problem');
      else s.reply(502, '5.5.1', 'Error: command not implemented');
      return false;
    }
    if (s.tx) {
      s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
      return false;
    }
    s.reply(220, '2.0.0', 'Ready to start TLS');
    await s.flush();
    let up;
    try {
      up = await hook.upgrade(s.socket, s.namaddr);
    } catch (e) {
      s.logger.info(`SSL_accept error from ${s.namaddr}: ${(e as Error).message}`);
      s.hangup();
      return false;
    }
    s.rebind(up.stream);
    // RFC 3207 section 4.2: forget everything learned before the handshake.
    s.tls = true;
    s.tlsInfo = up.info;
    s.helo = undefined;
    s.esmtp = false;
    s.pipeliningOffered = false;
    if (up.refused !== undefined) {
      s.logger.info(`NOQUEUE: abort: TLS from ${s.namaddr}: ${up.refused}`);
      s.reply(421, '4.7.1', `${s.settings.myhostname} Error: ${up.refused}`);
      s.hangup();
      return false;
    }
    return true;
  },
};
