// AUTH (RFC 4954). The SASL area supplies mechanisms and the exchange
// through the AuthHook; this file owns the SMTP side: state checks, the
// 334 challenge loop with its line limit, and never logging credentials.
import type { SmtpdCommand } from '../types.js';

export const AUTH: SmtpdCommand = {
  name: 'AUTH',
  last: false,
  junk: false,
  async run(s, args) {
    const hook = s.deps.auth;
    if (s.settings.saslAuthEnable && hook?.tlsRequired?.(s.tls)) {
      // RFC 4954 section 4; smtpd_tls_auth_only.
      s.reply(504, '5.5.4', 'Encryption required for requested authentication mechanism');
      return false;
    }
    if (!s.settings.saslAuthEnable || !hook || hook.mechanisms(s.tls).length === 0) {
      s.reply(503, '5.5.1', 'Error: authentication not enabled');
      return false;
    }
    if (s.helo === undefined || !s.esmtp) {
      s.reply(503, '5.5.1', 'Error: send HELO/EHLO first');
      return false;
    }
    if (s.saslUsername !== undefined) {
      s.reply(503, '5.5.1', 'Error: already authenticated');
      return false;
    }
    if (s.tx) {
      s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
      return false;
    }
    const [mech, initial, extra] = args.split(/[ \t]+/);
    if (!mech || extra !== undefined) {
      s.reply(501, '5.5.4', 'Syntax: AUTH mechanism');
      return false;
    }
    const challenge = async (text: string): Promise<string> => {
      s.reply(334, '', text);
      const line = await s.reader.readCommand(12288);
      return line.bytes.toString('latin1');
    };
    const result = await hook.authenticate(mech.toUpperCase(), initial, challenge, {
      namaddr: s.namaddr,
      addr: s.client.addr,
      port: s.client.port,
      localAddr: s.server.addr,
      localPort: s.server.port,
      tls: s.tls,
    });
    if ('reply' in result) {
      s.sendReply(result.reply);
      return false;
    }
    s.saslUsername = result.username;
    s.saslMethod = mech.toUpperCase();
    s.reply(235, '2.7.0', 'Authentication successful');
    return true;
  },
};
