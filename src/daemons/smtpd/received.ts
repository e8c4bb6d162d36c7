// The Received: header smtpd(8) prepends to every message, in Postfix's
// exact layout (RFC 5321 section 4.4 trace field): the HELO name, the
// verified client name and address, our host, mail_name, the protocol
// (SMTP/ESMTP/ESMTPS/ESMTPA/ESMTPSA or the UTF8SMTP forms) and queue ID, and a
// `for` clause only when the message has exactly one recipient.
import { mailDate } from '../../global/mail-date.js';

export interface ReceivedFacts {
  readonly helo: string | undefined;
  readonly clientName: string;
  /** Address as it appears inside brackets: `192.0.2.1` or `IPv6:2001:db8::1`. */
  readonly rfcAddr: string;
  readonly myhostname: string;
  readonly mailName: string;
  readonly protocol: string;
  readonly queueId: string;
  readonly recipients: readonly string[];
  readonly date: Date;
  /** Comment lines between `from` and `by`: TLS details, `Authenticated sender:` (without the tab). */
  readonly comments?: readonly string[];
}

/** The header as CRLF-terminated lines, ready for the queue file. */
export function receivedHeader(f: ReceivedFacts): string {
  let text = `Received: from ${f.helo ?? f.clientName} (${f.clientName} [${f.rfcAddr}])\r\n`;
  for (const c of f.comments ?? []) text += `\t${c}\r\n`;
  text += `\tby ${f.myhostname} (${f.mailName}) with ${f.protocol} id ${f.queueId}`;
  const only = f.recipients.length === 1 ? f.recipients[0] : undefined;
  const date = mailDate(f.date.getTime());
  return only !== undefined ? `${text}\r\n\tfor <${only}>; ${date}\r\n` : `${text};\r\n\t${date}\r\n`;
}
