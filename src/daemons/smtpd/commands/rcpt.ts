// RCPT TO (RFC 5321 section 4.1.1.3) with DSN NOTIFY/ORCPT (RFC 3461),
// smtpd_recipient_limit, the anvil recipient rate and the restriction
// stages. The first accepted recipient opens the cleanup transaction so the
// queue ID is logged (`ID: client=name[addr]`) before DATA.
import type { DsnNotify } from '../../../global/queue/cleanup-api.js';
import { isXtext } from '../../../util/xtext.js';
import { parsePath, splitParam } from '../envelope.js';
import { printableText } from '../printable.js';
import type { Session } from '../session.js';
import { checkStages, ensureCleanup } from '../transaction.js';
import type { AcceptedRecipient, SmtpdCommand } from '../types.js';
import type { RestrictionStage } from '../policy-api.js';
import { milterRcpt, milterRejectedRcpt } from '../milter-hooks.js';

const NOTIFY_WORDS = new Set(['SUCCESS', 'FAILURE', 'DELAY']);

function parseNotify(v: string): DsnNotify[] | undefined {
  const words = v.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') return ['NEVER'];
  if (words.some((w) => !NOTIFY_WORDS.has(w))) return undefined;
  return [...new Set(words)] as DsnNotify[];
}

/** RFC 3461 ORCPT: `addr-type;xtext`. */
function validOrcpt(v: string): boolean {
  const semi = v.indexOf(';');
  if (semi <= 0 || v.length > 500) return false;
  return /^[A-Za-z0-9-]+$/.test(v.slice(0, semi)) && isXtext(v.slice(semi + 1));
}

interface RcptParams {
  notify?: DsnNotify[];
  orcpt?: string;
}

function parseParams(s: Session, params: readonly string[]): RcptParams | false {
  const out: RcptParams = {};
  for (const p of params) {
    const { key, value } = splitParam(p);
    if (key === 'NOTIFY' && value !== undefined) {
      if (out.notify) {
        s.reply(501, '5.5.4', 'Error: Bad NOTIFY parameter syntax');
        return false;
      }
      const n = parseNotify(value);
      if (!n) {
        s.reply(501, '5.5.4', 'Error: Bad NOTIFY parameter syntax');
        return false;
      }
      out.notify = n;
    } else if (key === 'ORCPT' && value !== undefined) {
      if (out.orcpt !== undefined) {
        s.reply(501, '5.5.4', 'Error: Bad ORCPT parameter syntax');
        return false;
      }
      if (!validOrcpt(value)) {
        s.reply(501, '5.5.4', 'Error: Bad ORCPT parameter syntax');
        return false;
      }
      out.orcpt = value;
    } else {
      s.reply(555, '5.5.4', `Unsupported option: ${p}`);
      return false;
    }
  }
  return out;
}

function recipientRateOk(s: Session): boolean {
  const st = s.settings;
  const anvil = s.deps.anvil;
  if (!anvil || st.recipientRateLimit <= 0 || s.xclientAllowed || s.deps.lists.eventLimitExceptions.matches(s.client))
    return true;
  const rate = anvil.recipient(st.service, s.client.addr);
  if (rate <= st.recipientRateLimit) return true;
  s.logger.warning(`Recipient address rate limit exceeded: ${rate} from ${s.namaddr} for service ${st.service}`);
  s.reply(450, '4.7.1', `Error: too many recipients from ${s.client.addr}`);
  return false;
}

async function rcpt(s: Session, args: string): Promise<boolean> {
  const tx = s.tx;
  if (!tx) {
    s.reply(503, '5.5.1', 'Error: need MAIL command');
    return false;
  }
  if (tx.bdat) {
    s.reply(503, '5.5.1', 'Error: RCPT after BDAT');
    return false;
  }
  const path = parsePath(args, 'TO');
  if (!path.ok) {
    if (path.error === 'syntax') s.reply(501, '5.5.4', 'Syntax: RCPT TO:<address>');
    else {
      s.logger.warning(`Illegal address syntax from ${s.namaddr} in RCPT command: ${printableText(args.slice(3))}`);
      s.reply(501, '5.1.3', 'Bad recipient address syntax');
    }
    return false;
  }
  const params = parseParams(s, path.params);
  if (params === false) return false;
  if (path.address === '') {
    s.reply(501, '5.1.3', 'Bad recipient address syntax');
    return false;
  }
  if (path.utf8 && !tx.smtputf8) {
    s.reply(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
    return false;
  }
  const limit = s.settings.recipientLimit;
  if (limit > 0 && tx.recipients.length >= limit) {
    s.reply(452, '4.5.3', 'Error: too many recipients');
    return false;
  }
  if (!recipientRateOk(s)) return false;
  // With smtpd_delay_reject the client, HELO and sender lists are evaluated here, per recipient.
  const stages: RestrictionStage[] = s.settings.delayReject ? ['connect', 'helo', 'mail', 'rcpt'] : ['rcpt'];
  const env = {
    sender: tx.sender,
    recipient: path.address,
    ...(tx.declaredSize !== undefined ? { size: tx.declaredSize } : {}),
  };
  if (!(await checkStages(s, stages, env))) {
    if (s.tx === tx) await milterRejectedRcpt(s, path.address, path.params);
    return false;
  }
  if (s.tx !== tx) return false;
  const refused = await milterRcpt(s, path.address, path.params);
  if (refused) {
    s.sendReply(refused);
    if (refused.code === 421) s.hangup();
    return false;
  }
  if (s.tx !== tx) return false;
  const r: AcceptedRecipient = {
    address: path.address,
    ...(params.orcpt !== undefined ? { orcpt: params.orcpt } : {}),
    ...(params.notify !== undefined ? { notify: params.notify } : {}),
  };
  if (!(await ensureCleanup(s))) return false;
  tx.recipients.push(r);
  tx.cleanup?.addRecipient(r);
  s.reply(250, '2.1.5', 'Ok');
  return true;
}

export const RCPT: SmtpdCommand = { name: 'RCPT', last: false, junk: false, run: rcpt };
