// One SMTP reply type for every component that answers a client or records a
// delivery status: code, RFC 3463 enhanced status code and text (Postfix's
// wording, since administrators and scripts match on it).

export interface SmtpReply {
  readonly code: number;
  /** Enhanced status code such as `5.1.1`; empty when the reply has none (greeting, 221 without ESMTP). */
  readonly dsn: string;
  readonly text: string;
}

export function reply(code: number, dsn: string, text: string): SmtpReply {
  return { code, dsn, text };
}

export function isTemporary(r: SmtpReply): boolean {
  return r.code >= 400 && r.code < 500;
}

/** Wire form, multi-line when `text` contains newlines. */
export function formatReply(r: SmtpReply, withDsn = true): string {
  const prefix = withDsn && r.dsn ? `${r.dsn} ` : '';
  if (!r.text.includes('\n')) return `${r.code} ${prefix}${r.text}\r\n`;
  const lines = r.text.split('\n');
  return lines.map((l, i) => `${r.code}${i < lines.length - 1 ? '-' : ' '}${prefix}${l}\r\n`).join('');
}
