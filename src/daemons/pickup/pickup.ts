// pickup(8): move mail from maildrop/ into the queue. Each maildrop file is
// handed to cleanup as a local submission (origin `pickup`, so cleanup adds
// missing headers and applies sendmail -t), and the file is removed only
// after cleanup's commit made the queued copy durable: a crash in between
// queues the message twice rather than losing it. A damaged file goes to
// corrupt/; a file this process may not read is left for later (root's
// sendmail hands files to mail_owner, see commands/sendmail/submit.ts).
// A message cleanup refuses (header_checks REJECT, too big) is returned to
// the submitting user with a non-delivery notice, as Postfix's cleanup does
// for local submissions; the file goes only once that notice is queued.
//
// Touches: $queue_directory/maildrop (read, unlink), corrupt/ (damaged files).
import type { Logger } from '../../global/log/logger.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { SmtpReply } from '../../global/smtp/reply.js';
import type { BounceService } from '../bounce/bounce.js';
import { recipientLogLine } from '../qmgr/log-lines.js';
import {
  listMaildrop,
  MaildropError,
  type MaildropMessage,
  quarantineMaildrop,
  readMaildrop,
  removeMaildrop,
} from '../../global/queue/maildrop.js';

/** Files taken per scan; the next scan (triggered at once) continues. */
const BATCH = 1000;
/** Content is handed to cleanup in pieces of about this size (whole lines). */
const CHUNK = 64 * 1024;

export interface PickupOptions {
  readonly queueDirectory: string;
  /** Looked up at use time: cleanup may start after pickup. */
  readonly cleanup: () => CleanupService | undefined;
  readonly logger: Logger;
  /** The master.cf service name, so cleanup applies this entry's content_filter and receive_override_options. */
  readonly service?: string;
  /** Looked up at use time; without it (or while it is down) refused mail stays in maildrop/. */
  readonly bounce?: () => BounceService | undefined;
}

/** Addresses in log lines: control characters escaped, length bounded. */
function logSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.slice(0, 500).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function* lineChunks(content: Buffer): Generator<Buffer> {
  let pos = 0;
  while (pos < content.length) {
    let end = Math.min(content.length, pos + CHUNK);
    if (end < content.length) {
      const nl = content.lastIndexOf(0x0a, end - 1);
      end = nl >= pos ? nl + 1 : content.indexOf(0x0a, end) + 1 || content.length;
    }
    yield content.subarray(pos, end);
    pos = end;
  }
}

export type PickupResult = 'queued' | 'rejected' | 'skipped' | 'damaged' | 'retry';

export class Pickup {
  constructor(private readonly o: PickupOptions) {}

  /** One pass over maildrop/; returns how many files were taken (queued, rejected or set aside). */
  async scan(): Promise<number> {
    const ids = (await listMaildrop(this.o.queueDirectory)).slice(0, BATCH);
    let taken = 0;
    for (const id of ids) {
      const r = await this.pickOne(id);
      if (r === 'retry') break; // cleanup unavailable: try again at the next wake-up
      if (r !== 'skipped') taken++;
    }
    return taken;
  }

  async pickOne(dropId: string): Promise<PickupResult> {
    const log = this.o.logger;
    const cleanup = this.o.cleanup();
    if (!cleanup) return 'retry';
    let msg;
    try {
      msg = await readMaildrop(this.o.queueDirectory, dropId);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'skipped'; // taken by another pickup, or postsuper -d
      if (code === 'EACCES' || code === 'EPERM') {
        log.warning(`maildrop/${dropId}: cannot read: permission denied`);
        return 'skipped';
      }
      if (err instanceof MaildropError) {
        log.warning(`${err.message}: moved to corrupt/${dropId}`);
        await quarantineMaildrop(this.o.queueDirectory, dropId).catch(() => undefined);
        return 'damaged';
      }
      throw err;
    }
    const env = msg.envelope;
    const tx = await cleanup.open({
      origin: 'pickup',
      sender: env.sender,
      ...(this.o.service !== undefined ? { service: this.o.service } : {}),
      arrivalTime: env.arrivalTime,
      ...(env.fullName !== undefined ? { fullName: env.fullName } : {}),
      ...(env.extractRecipients ? { extractRecipients: true } : {}),
      ...(env.ret !== undefined ? { ret: env.ret } : {}),
      ...(env.envid !== undefined ? { envid: env.envid } : {}),
      ...(env.body !== undefined ? { body: env.body } : {}),
      ...(env.verifyOnly === true ? { verifyOnly: true } : {}),
    });
    log.info(`${tx.queueId}: uid=${env.uid ?? process.getuid?.() ?? 0} from=<${logSafe(env.sender)}>`);
    for (const address of env.recipients) {
      if (address !== '') tx.addRecipient({ address, ...(env.notify ? { notify: env.notify } : {}) });
    }
    for (const piece of lineChunks(msg.content)) tx.write(piece);
    let verdict;
    try {
      verdict = await tx.commit();
    } catch (err) {
      // Storage trouble: keep the file, cleanup will be asked again later.
      log.warning(`${tx.queueId}: cleanup failed: ${(err as Error).message}; maildrop/${dropId} kept for a retry`);
      return 'retry';
    }
    if (verdict.status === 'rejected' && verdict.reply.code < 500) {
      // Full disk (452), a table that failed, a 4xx REJECT: the message may be accepted later.
      log.warning(
        `${tx.queueId}: message from maildrop/${dropId} deferred: ${verdict.reply.code} ${verdict.reply.dsn} ${verdict.reply.text}; kept for a retry`,
      );
      return 'skipped';
    }
    if (verdict.status === 'rejected') {
      log.warning(
        `${tx.queueId}: message from maildrop/${dropId} rejected: ${verdict.reply.code} ${verdict.reply.dsn} ${verdict.reply.text}`,
      );
      // Nothing would ever make cleanup accept it (size, header checks): the sender hears why, and the file goes.
      if (!(await this.returnToSender(tx.queueId, dropId, msg, verdict.reply))) return 'skipped';
      await removeMaildrop(this.o.queueDirectory, dropId).catch(() => undefined);
      return 'rejected';
    }
    await removeMaildrop(this.o.queueDirectory, dropId);
    return 'queued';
  }

  /**
   * Queue a non-delivery notice for every recipient of a refused message.
   * False (file kept, logged) when the bounce service is down or failed, so
   * a refused message is never dropped without telling its sender.
   */
  private async returnToSender(
    queueId: string,
    dropId: string,
    msg: MaildropMessage,
    reply: SmtpReply,
  ): Promise<boolean> {
    const log = this.o.logger;
    const bounce = this.o.bounce?.();
    if (!bounce) {
      log.warning(`${queueId}: bounce service unavailable; maildrop/${dropId} kept for a retry`);
      return false;
    }
    const env = msg.envelope;
    const outcome = { status: 'bounced' as const, dsn: reply.dsn, relay: 'none', reason: reply.text };
    const given = env.recipients.filter((r) => r !== '');
    // sendmail -t mail refused before its header recipients were read: Postfix reports "unknown".
    const rcpts = given.length > 0 ? given : ['unknown'];
    const delay = Math.max(0, (Date.now() - env.arrivalTime) / 1000);
    const cleanupLog = log.child('cleanup');
    for (const [index, address] of rcpts.entries()) {
      cleanupLog.info(
        recipientLogLine(queueId, { address, original: address }, { index, ...outcome }, delay, {
          beforeActive: delay,
          inActive: 0,
          setup: 0,
          transmission: 0,
        }),
      );
    }
    try {
      await bounce.notify({
        kind: 'bounce',
        message: {
          queueId,
          sender: env.sender,
          arrivalTime: env.arrivalTime,
          size: msg.content.length,
          openContent: () => lineChunksAsync(msg.content),
          ...(env.envid !== undefined ? { envid: env.envid } : {}),
          ...(env.ret !== undefined ? { ret: env.ret } : {}),
          ...(env.body !== undefined ? { body: env.body } : {}),
        },
        recipients: rcpts.map((address) => ({
          address,
          original: address,
          action: 'failed' as const,
          dsn: reply.dsn,
          reason: reply.text,
          relay: 'none',
          ...(env.notify ? { notify: env.notify } : {}),
        })),
      });
    } catch (err) {
      log.warning(`${queueId}: cannot return message to sender: ${(err as Error).message}; maildrop/${dropId} kept`);
      return false;
    }
    return true;
  }
}

// eslint-disable-next-line @typescript-eslint/require-await
async function* lineChunksAsync(content: Buffer): AsyncGenerator<Buffer> {
  yield* lineChunks(content);
}
