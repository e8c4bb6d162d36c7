// MAIL FROM (RFC 5321 section 4.1.1.2) with the ESMTP parameters Postfix
// supports: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and
// ENVID (RFC 3461). Replies and their order follow Postfix's mail_cmd.
import { decodeXtext, isXtext } from '../../../util/xtext.js';
import { parsePath, splitParam } from '../envelope.js';
import { printableText } from '../printable.js';
import type { Session } from '../session.js';
import { checkStages } from '../transaction.js';
import type { MailTransaction, SmtpdCommand } from '../types.js';
import { milterMail } from '../milter-hooks.js';

interface MailParams {
  size?: number;
  body?: '7BIT' | '8BITMIME';
  smtputf8: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  /** AUTH= value, xtext decoded (`<>` kept as is). */
  auth?: string;
}

/** Parsed parameters, or false after the error reply was sent. */
function parseParams(s: Session, params: readonly string[]): MailParams | false {
  const out: MailParams = { smtputf8: false };
  for (const p of params) {
    const { key, value } = splitParam(p);
    const v = value ?? '';
    if (key === 'BODY' && (v.toUpperCase() === '8BITMIME' || v.toUpperCase() === '7BIT')) {
      out.body = v.toUpperCase() as '7BIT' | '8BITMIME';
    } else if (key === 'SIZE' && value !== undefined) {
      if (!/^\d+$/.test(v)) {
        s.reply(501, '5.5.4', 'Bad message size syntax');
        return false;
      }
      const n = Number(v);
      if (!Number.isSafeInteger(n)) {
        s.reply(552, '5.3.4', 'Message size exceeds file system imposed limit');
        return false;
      }
      out.size = n;
    } else if (key === 'SMTPUTF8' && value === undefined && s.settings.smtputf8Enable) {
      out.smtputf8 = true;
    } else if (key === 'RET' && value !== undefined) {
      if (out.ret !== undefined) {
        s.reply(501, '5.5.4', 'Bad RET parameter syntax');
        return false;
      }
      const r = v.toUpperCase();
      if (r !== 'FULL' && r !== 'HDRS') {
        s.reply(501, '5.5.4', 'Bad RET parameter syntax');
        return false;
      }
      out.ret = r;
    } else if (key === 'AUTH' && value !== undefined && s.settings.saslAuthEnable) {
      // RFC 4954 section 5: the identity is informational; Postfix accepts one and ignores it.
      if (out.auth !== undefined) {
        s.reply(503, '5.5.4', 'Error: multiple AUTH= options');
        return false;
      }
      const decoded = value === '<>' ? value : decodeXtext(value);
      if (decoded === undefined) {
        s.reply(501, '5.5.4', 'Bad AUTH parameter syntax');
        return false;
      }
      out.auth = decoded;
    } else if (key === 'ENVID' && value !== undefined) {
      if (out.envid !== undefined) {
        s.reply(501, '5.5.4', 'Bad ENVID parameter syntax');
        return false;
      }
      if (v === '' || v.length > 100 || !isXtext(v)) {
        s.reply(501, '5.5.4', 'Bad ENVID parameter syntax');
        return false;
      }
      out.envid = v;
    } else {
      s.reply(555, '5.5.4', `Unsupported option: ${p}`);
      return false;
    }
  }
  return out;
}

async function mail(s: Session, args: string): Promise<boolean> {
  const st = s.settings;
  if (st.heloRequired && s.helo === undefined) {
    s.reply(503, '5.5.1', 'Error: send HELO/EHLO first');
    return false;
  }
  if (s.tx?.bdat) {
    s.reply(503, '5.5.1', 'Error: MAIL after BDAT');
    return false;
  }
  if (s.tx) {
    s.reply(503, '5.5.1', 'Error: nested MAIL command');
    return false;
  }
  const path = parsePath(args, 'FROM');
  if (!path.ok) {
    if (path.error === 'syntax') s.reply(501, '5.5.4', 'Syntax: MAIL FROM:<address>');
    else {
      s.logger.warning(`Illegal address syntax from ${s.namaddr} in MAIL command: ${printableText(args.slice(5))}`);
      s.reply(501, '5.1.7', 'Bad sender address syntax');
    }
    return false;
  }
  const params = parseParams(s, path.params);
  if (params === false) return false;
  if (path.utf8 && !params.smtputf8) {
    s.reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
    return false;
  }
  if (st.messageSizeLimit > 0 && params.size !== undefined && params.size > st.messageSizeLimit) {
    s.reply(552, '5.3.4', 'Message size exceeds fixed limit');
    return false;
  }
  if (!messageRateOk(s)) return false;
  const env = {
    sender: path.address,
    ...(params.size !== undefined ? { size: params.size } : {}),
    ...(params.auth !== undefined ? { saslSender: params.auth } : {}),
  };
  s.pendingEffects = [];
  if (!st.delayReject && !(await checkStages(s, ['mail'], env))) return false;
  const tx: MailTransaction = {
    sender: path.address,
    ...(params.size !== undefined ? { declaredSize: params.size } : {}),
    ...(params.body !== undefined ? { body: params.body } : {}),
    smtputf8: params.smtputf8,
    ...(params.ret !== undefined ? { ret: params.ret } : {}),
    ...(params.envid !== undefined ? { envid: params.envid } : {}),
    ...(params.auth !== undefined ? { saslSender: params.auth } : {}),
    recipients: [],
    effects: [...s.sessionEffects, ...s.pendingEffects],
  };
  s.pendingEffects = [];
  const refused = await milterMail(s, path.address, path.params, tx);
  if (refused) {
    s.sendReply(refused);
    if (refused.code === 421) s.hangup();
    return false;
  }
  s.tx = tx;
  s.reply(250, '2.1.0', 'Ok');
  return true;
}

/** smtpd_client_message_rate_limit via anvil. */
function messageRateOk(s: Session): boolean {
  const st = s.settings;
  const anvil = s.deps.anvil;
  if (!anvil || st.messageRateLimit <= 0 || s.xclientAllowed || s.deps.lists.eventLimitExceptions.matches(s.client))
    return true;
  const rate = anvil.message(st.service, s.client.addr);
  if (rate <= st.messageRateLimit) return true;
  s.logger.warning(`Message delivery request rate limit exceeded: ${rate} from ${s.namaddr} for service ${st.service}`);
  s.reply(450, '4.7.1', `Error: too much mail from ${s.client.addr}`);
  return false;
}

export const MAIL: SmtpdCommand = { name: 'MAIL', last: false, junk: false, run: mail };
