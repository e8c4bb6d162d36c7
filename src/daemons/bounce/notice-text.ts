// Postern's built-in bounce templates (bounce(5)): the four notices bounce(8)
// writes — failure, delay, success and the sendmail -bv verify report —
// each with the header lines a template may set and its message text,
// unexpanded, in Postern's own words. A bounce_template_file replaces any
// of them; `postconf -t` prints these when no file is named.

export type TemplateName = 'failure' | 'delay' | 'success' | 'verify';

export const TEMPLATE_NAMES: readonly TemplateName[] = ['failure', 'delay', 'success', 'verify'];

export interface BounceTemplate {
  readonly name: TemplateName;
  /** MIME charset of the message text (a superset of US-ASCII). */
  readonly charset: string;
  readonly from: string;
  readonly subject: string;
  /** Subject of the postmaster copy; only failure and delay notices have one. */
  readonly postmasterSubject?: string;
  /** Message text lines with `$name` references still in them. */
  readonly body: readonly string[];
}

/** Only failure and delay notices have postmaster copies (notify_classes bounce, delay). */
export function hasPostmasterCopy(name: TemplateName): boolean {
  return name === 'failure' || name === 'delay';
}

const FROM = 'MAILER-DAEMON (Mail Delivery System)';

const HELP = [
  'If you need help with this, write to the postmaster of this site and',
  'include this report. You may cut your own text out of the returned copy.',
];

const SIGNATURE = ['', '                   The $mail_name program'];

export const BUILTIN_TEMPLATES: Readonly<Record<TemplateName, BounceTemplate>> = {
  failure: {
    name: 'failure',
    charset: 'us-ascii',
    from: FROM,
    subject: 'Undelivered Mail Returned to Sender',
    postmasterSubject: 'Postmaster Copy: Undelivered Mail',
    body: [
      'This is the mail system at host $myhostname.',
      '',
      'Your message could not be delivered to one or more of its recipients.',
      'Each address is listed below with the reason; a copy of your message',
      'follows this report.',
      '',
      ...HELP,
      ...SIGNATURE,
    ],
  },
  delay: {
    name: 'delay',
    charset: 'us-ascii',
    from: FROM,
    subject: 'Delayed Mail (still being retried)',
    postmasterSubject: 'Postmaster Warning: Delayed Mail',
    body: [
      'This is the mail system at host $myhostname.',
      '',
      '*** THIS IS ONLY A WARNING: THERE IS NO NEED TO SEND YOUR MESSAGE AGAIN. ***',
      '',
      'Delivery of your message to the recipients listed below has been',
      'delayed for $delay_warning_time_hours hour(s) or more. It will be tried again until',
      'it is $maximal_queue_lifetime_days day(s) old; you will hear from us again only if it fails.',
      '',
      ...HELP,
      ...SIGNATURE,
    ],
  },
  success: {
    name: 'success',
    charset: 'us-ascii',
    from: FROM,
    subject: 'Successful Mail Delivery Report',
    body: [
      'This is the mail system at host $myhostname.',
      '',
      'Your message reached the destinations listed below, as you asked to',
      'be told. Where the report says "delivered" it is in the mailbox and',
      'nothing more will follow; where it says "relayed" it was handed to a',
      'system that may still report delivery problems of its own.',
      ...SIGNATURE,
    ],
  },
  verify: {
    name: 'verify',
    charset: 'us-ascii',
    from: FROM,
    subject: 'Mail Delivery Status Report',
    body: [
      'This is the mail system at host $myhostname.',
      '',
      'You asked for a report on the recipients listed below: it says, for',
      'each one, whether mail to that address could be delivered, and how.',
      'Nothing was delivered to anyone; this report is all there is.',
      ...SIGNATURE,
    ],
  },
};
