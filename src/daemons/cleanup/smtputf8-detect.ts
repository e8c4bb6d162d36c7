// smtputf8_autodetect_classes: cleanup(8) flags a message "SMTPUTF8
// requested" on its own when the mail comes from one of the listed origin
// classes and its envelope (sender, recipients, after rewriting and alias
// expansion) or its headers contain UTF-8, even though the client never
// asked. The smtp client then sends SMTPUTF8 to servers that offer it and
// returns the message (5.6.7) rather than pass UTF-8 to one that does not.
// The body does not count. Nothing is detected with smtputf8_enable = no.
import type { CleanupOpenRequest } from '../../global/queue/cleanup-api.js';
import type { ParamReader } from '../../global/params/types.js';

/** The autodetect class of each cleanup origin (pickup carries sendmail/postdrop submissions; local is forwarding). */
const CLASS_OF: Readonly<Record<CleanupOpenRequest['origin'], string>> = {
  smtpd: 'smtpd',
  pickup: 'sendmail',
  sendmail: 'sendmail',
  bounce: 'bounce',
  local: 'forward',
};

export function autodetectApplies(cfg: ParamReader, origin: CleanupOpenRequest['origin']): boolean {
  if (!cfg.bool('smtputf8_enable')) return false;
  const classes = cfg.list('smtputf8_autodetect_classes').map((c) => c.toLowerCase());
  return classes.includes('all') || classes.includes(CLASS_OF[origin]);
}

const nonAscii = (s: string): boolean => /[\u0080-\uffff]/.test(s);

function hasHighByte(buf: Buffer): boolean {
  for (const b of buf) if (b > 0x7f) return true;
  return false;
}

/** Whether the stored envelope or header section needs SMTPUTF8. */
export function needsSmtputf8(sender: string, recipients: readonly string[], headers: readonly Buffer[]): boolean {
  return nonAscii(sender) || recipients.some(nonAscii) || headers.some(hasHighByte);
}
