// The human-readable first part of Postern's delivery status notifications
// (bounce(8)'s templates, see bounce(5)): one text per notice kind, written in
// Postfix's manner — identify the reporting host, say what happened, point at
// the postmaster — and signed with mail_name so recipients can tell who sent it.

export type NoticeKind = 'failure' | 'delay' | 'success' | 'verify' | 'postmaster-failure' | 'postmaster-delay';

export interface NoticeText {
  readonly subject: string;
  readonly body: (p: { host: string; mailName: string; delayHours?: number; retryDays?: number }) => string[];
}

const signature = (mailName: string): string[] => ['', `                   The ${mailName} program`];

export const NOTICE_TEXTS: Record<NoticeKind, NoticeText> = {
  failure: {
    subject: 'Undelivered Mail Returned to Sender',
    body: ({ host, mailName }) => [
      `This is the mail system at host ${host}.`,
      '',
      "I'm sorry to have to inform you that your message could not",
      'be delivered to one or more recipients. It is attached below.',
      '',
      'For further assistance, please send mail to postmaster.',
      '',
      'If you do so, please include this problem report. You can',
      'delete your own text from the attached returned message.',
      ...signature(mailName),
    ],
  },
  delay: {
    subject: 'Delayed Mail (still being retried)',
    body: ({ host, mailName, delayHours, retryDays }) => [
      `This is the mail system at host ${host}.`,
      '',
      '####################################################################',
      '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
      '####################################################################',
      '',
      `Your message could not be delivered for more than ${delayHours ?? 0} hour(s).`,
      `It will be retried until it is ${retryDays ?? 0} day(s) old.`,
      '',
      'For further assistance, please send mail to postmaster.',
      '',
      'If you do so, please include this problem report. You can',
      'delete your own text from the attached returned message.',
      ...signature(mailName),
    ],
  },
  success: {
    subject: 'Successful Mail Delivery Report',
    body: ({ host, mailName }) => [
      `This is the mail system at host ${host}.`,
      '',
      'Your message was successfully delivered to the destination(s)',
      'listed below. If the message was delivered to mailbox you will',
      'receive no further notifications. Otherwise you may still receive',
      'notifications of mail delivery errors from other systems.',
      ...signature(mailName),
    ],
  },
  verify: {
    subject: 'Mail Delivery Status Report',
    body: ({ host, mailName }) => [
      `This is the mail system at host ${host}.`,
      '',
      'You asked for a report on the recipients listed below: it says, for',
      'each one, whether mail to that address could be delivered, and how.',
      'Nothing was delivered to anyone; this report is all there is.',
      ...signature(mailName),
    ],
  },
  'postmaster-failure': {
    subject: 'Postmaster Copy: Undelivered Mail',
    body: ({ host, mailName }) => [
      `This is the mail system at host ${host}.`,
      '',
      'A message could not be delivered to one or more recipients.',
      'The delivery report and the returned message headers follow.',
      ...signature(mailName),
    ],
  },
  'postmaster-delay': {
    subject: 'Postmaster Warning: Delayed Mail',
    body: ({ host, mailName }) => [
      `This is the mail system at host ${host}.`,
      '',
      'A message has been delayed; it is still being retried.',
      'The delivery report and the message headers follow.',
      ...signature(mailName),
    ],
  },
};
