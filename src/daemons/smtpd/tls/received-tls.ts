// The comment lines smtpd(8) puts into its Received: header about how the
// client reached us: the TLS protocol and cipher with the client
// certificate's status (smtpd_tls_received_header = yes) and the SASL login
// (smtpd_sasl_authenticated_header = yes). Both are off by default because
// they reveal details of the session to every recipient.
import type { Session } from '../session.js';
import { cipherText } from './server-tls.js';

export function receivedComments(s: Session): string[] {
  const out: string[] = [];
  const info = s.tlsInfo;
  if (s.settings.tlsReceivedHeader && info) {
    out.push(`(using ${cipherText(info)})`);
    if (!info.certRequested) out.push('(No client certificate requested)');
    else if (!info.peer) out.push('(Client did not present a certificate)');
    else {
      const v = info.peer.verified ? 'verified OK' : 'not verified';
      out.push(`(Client CN "${info.peer.subjectCN}", Issuer "${info.peer.issuerCN}" (${v}))`);
    }
  }
  if (s.settings.saslAuthenticatedHeader && s.saslUsername !== undefined) {
    out.push(`(Authenticated sender: ${s.saslUsername})`);
  }
  return out;
}
