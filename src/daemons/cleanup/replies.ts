// The replies a message source passes on when cleanup refuses a message,
// worded as Postfix's smtpd words them for the corresponding cleanup status.
import { reply, type SmtpReply } from '../../global/smtp/reply.js';

export const TOO_BIG: SmtpReply = reply(552, '5.3.4', 'Error: message file too big');
export const TOO_MANY_HOPS: SmtpReply = reply(554, '5.4.0', 'Error: too many hops');
export const NO_RECIPIENTS: SmtpReply = reply(550, '5.1.0', 'Error: no recipients specified');
export const NO_SPACE: SmtpReply = reply(452, '4.3.1', 'Insufficient system storage');
export const WRITE_ERROR: SmtpReply = reply(451, '4.3.0', 'Error: queue file write error');
