// One message passing through cleanup(8): recipients and content collect
// here (bounded by message_size_limit and duplicate_filter_limit), and
// commit() runs the header pass, body checks and address rewriting, then
// stores the message and resolves only once it is durable. Every refusal is
// an SMTP reply the source passes on; nothing is stored for it.
import type { Logger } from '../../global/log/logger.js';
import type {
  CleanupOpenRequest,
  CleanupMilterEdits,
  CleanupPolicyActions,
  CleanupTransaction,
  CleanupVerdict,
  DsnNotify,
  EnvelopeRecipient,
} from '../../global/queue/cleanup-api.js';
import type { NewMessage, SegmentStore } from '../../global/queue/segment-store.js';
import { receiveOverrides } from '../../global/queue/receive-overrides.js';
import { QueueStorageError } from '../../global/queue/storage-error.js';
import type { ParamReader } from '../../global/params/types.js';
import { parseAddressList } from './address-list.js';
import { headerValue, joinedPrefix, parseContent, type LogicalHeader } from './header-parse.js';
import { rewriteHeaderAddresses } from './header-addresses.js';
import { applyHeaderRules, printable } from './header-rules.js';
import type { CleanupAddressRewriter, CleanupContentChecks, ContentInspection, RewriteContext } from './hooks.js';
import { isLocalRewriteClient } from './local-clients.js';
import { nonSmtpdMiltersApply, runNonSmtpdMilters, type MilterPhaseResult } from './milter-phase.js';
import { needsSmtputf8 } from './smtputf8-detect.js';
import { cleanupSettings, sourceContentFilter, type CleanupSettings } from './cleanup-settings.js';
import { NO_RECIPIENTS, NO_SPACE, TOO_BIG, TOO_MANY_HOPS, WRITE_ERROR } from './replies.js';

export interface TransactionDeps {
  readonly store: SegmentStore;
  readonly cfg: ParamReader;
  readonly log: Logger;
  readonly rewriter: CleanupAddressRewriter;
  readonly checks?: CleanupContentChecks;
  /**
   * The configuration of the service the mail came in through (main.cf with
   * that smtpd/pickup entry's `-o`): its content_filter and
   * receive_override_options apply to this message. Defaults to `cfg`.
   */
  readonly source?: ParamReader;
  /**
   * content_filter given with `-o` on the cleanup entry itself: it applies to
   * mail from every source, internal ones (bounces, forwarding) included,
   * unless the source's own entry sets content_filter (as the re-injection
   * smtpd's `-o content_filter=` does).
   */
  readonly cleanupFilter?: string;
}

/** Internally generated mail: bounce(8) notices and local(8) forwarding. */
const INTERNAL_ORIGINS: ReadonlySet<CleanupOpenRequest['origin']> = new Set(['bounce', 'local']);

/** Mail sources whose content_filter is stamped on the message (not bounces or local forwarding). */
const FILTERED_ORIGINS: ReadonlySet<CleanupOpenRequest['origin']> = new Set(['smtpd', 'pickup', 'sendmail']);

/** Mail without an SMTP session, for which cleanup plays one to non_smtpd_milters. */
const LOCAL_ORIGINS: ReadonlySet<CleanupOpenRequest['origin']> = new Set(['pickup', 'sendmail']);

/** Recipients beyond this many per message are refused outright (memory bound). */
const MAX_RECIPIENTS = 100_000;

export class Transaction implements CleanupTransaction {
  readonly queueId: string;
  private readonly recipients: EnvelopeRecipient[] = [];
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private tooBig = false;
  private finished = false;
  private readonly sizeLimit: number;
  private readonly arrivalTime: number;

  constructor(
    private readonly deps: TransactionDeps,
    private readonly req: CleanupOpenRequest,
  ) {
    // An ID reserved earlier (reserveQueueIds) is taken over; finish() releases it either way.
    this.queueId = req.queueId ?? deps.store.newQueueId();
    this.sizeLimit = deps.cfg.size('message_size_limit');
    this.arrivalTime = req.arrivalTime ?? Date.now();
  }

  addRecipient(rcpt: EnvelopeRecipient): void {
    if (this.finished) throw new Error(`${this.queueId}: transaction already finished`);
    if (rcpt.address === '') throw new Error(`${this.queueId}: empty recipient address`);
    if (this.recipients.length >= MAX_RECIPIENTS) throw new Error(`${this.queueId}: too many recipients`);
    this.recipients.push(rcpt);
  }

  write(lines: Buffer): void {
    if (this.finished) throw new Error(`${this.queueId}: transaction already finished`);
    this.size += lines.length;
    // Past the limit the content is dropped but counted; commit() refuses it.
    if (this.sizeLimit > 0 && this.size > this.sizeLimit) {
      if (!this.tooBig) this.chunks.length = 0;
      this.tooBig = true;
      return;
    }
    // Handed over by the caller (CleanupTransaction.write): kept, not copied.
    this.chunks.push(lines);
  }

  abort(): Promise<void> {
    this.finish();
    return Promise.resolve();
  }

  private finish(): void {
    this.finished = true;
    this.chunks.length = 0;
    this.deps.store.releaseQueueId(this.queueId);
  }

  async commit(actions: CleanupPolicyActions = {}): Promise<CleanupVerdict> {
    if (this.finished) throw new Error(`${this.queueId}: transaction already finished`);
    this.finished = true;
    try {
      if (actions.milter) this.applyMilterEdits(actions.milter);
      const local = await this.localMilters();
      if (local?.status === 'reject') return { status: 'rejected', reply: local.reply };
      const merged = mergeActions(this.req, actions);
      return await this.process(
        local
          ? { ...merged, hold: merged.hold === true || local.hold, discard: merged.discard === true || local.discard }
          : merged,
      );
    } finally {
      this.chunks.length = 0;
      this.deps.store.releaseQueueId(this.queueId);
    }
  }

  /**
   * non_smtpd_milters for mail from sendmail/pickup: they may refuse it or
   * change it; the changed content, sender and recipients replace ours.
   */
  private async localMilters(): Promise<MilterPhaseResult | undefined> {
    const { cfg, log } = this.deps;
    const source = this.deps.source ?? cfg;
    if (this.tooBig || !LOCAL_ORIGINS.has(this.req.origin) || !nonSmtpdMiltersApply(cfg, source)) return undefined;
    const r = await runNonSmtpdMilters({
      cfg,
      source,
      log,
      queueId: this.queueId,
      sender: this.envelopeSender ?? this.req.sender,
      recipients: this.recipients,
      content: Buffer.concat(this.chunks),
    });
    if (r.status === 'accept') {
      this.chunks.length = 0;
      this.chunks.push(r.content);
      this.recipients.length = 0;
      this.recipients.push(...r.recipients);
      this.envelopeSender = r.sender;
    }
    return r;
  }

  /** The envelope sender as received, or as a milter changed it. */
  private envelopeSender: string | undefined;

  /** smtpd_milters' envelope edits: they see the addresses as received, before any rewriting. */
  private applyMilterEdits(edits: CleanupMilterEdits): void {
    if (edits.sender !== undefined) this.envelopeSender = edits.sender;
    const drop = new Set(edits.deleteRecipients ?? []);
    if (drop.size === 0) return;
    const kept = this.recipients.filter((r) => !drop.has(r.address));
    this.recipients.length = 0;
    this.recipients.push(...kept);
  }

  private async process(policy: CleanupPolicyActions): Promise<CleanupVerdict> {
    const { cfg, log, store } = this.deps;
    const id = this.queueId;
    if (this.tooBig) {
      log.warning(`${id}: message file too big: ${this.size} bytes exceeds message_size_limit ${this.sizeLimit}`);
      return { status: 'rejected', reply: TOO_BIG };
    }
    const source = this.deps.source ?? cfg;
    const settings = cleanupSettings(cfg);
    const overrides = receiveOverrides(source, (t) => log.warning(t));
    // Mail Postfix generates itself (notices, forwarding) is never subject to header/body checks.
    const skipChecks = overrides.has('no_header_body_checks') || INTERNAL_ORIGINS.has(this.req.origin);
    const ctx: RewriteContext = {
      queueId: id,
      origin: this.req.origin,
      ...(overrides.has('no_address_mappings') ? { noAddressMappings: true } : {}),
    };
    const contentFilter = FILTERED_ORIGINS.has(this.req.origin)
      ? sourceContentFilter(source)
      : (this.deps.cleanupFilter ?? '');
    // smtpd's DISCARD: accepted and thrown away, as cleanup(8) does with its discard flag.
    if (policy.discard) return { status: 'discarded', queueId: id };
    const sender = await this.deps.rewriter.sender(this.envelopeSender ?? this.req.sender, ctx);
    // The headers are split out of the received pieces; the body stays in them, never joined.
    const parsed = parseContent(this.chunks.splice(0));
    if (this.req.extractRecipients) {
      // sendmail -t: header recipients join the command-line ones (Postfix >= 2.1).
      for (const address of extractRecipients(parsed.headers, MAX_RECIPIENTS - this.recipients.length)) {
        this.recipients.push({ address });
      }
    }
    const recipients = await this.rewriteRecipients(ctx, settings.duplicateFilterLimit);
    await this.addAutomaticBcc(recipients, sender, ctx, settings.alwaysBcc);

    // The MIME-aware pass (checks/) replaces the per-line header()/body() calls below.
    const inspected = await this.inspect(parsed, ctx, sender, skipChecks);
    if (inspected?.status === 'reject') return { status: 'rejected', reply: inspected.reply };
    if (inspected?.status === 'discard') return { status: 'discarded', queueId: id };
    // local_header_rewrite_clients: local submissions and listed clients get the "local" treatment.
    const localClient = this.req.origin !== 'smtpd' || isLocalRewriteClient(cfg, this.req.client);
    const withinLimit = new Set<LogicalHeader>();
    const primary = await this.rewriteHeaders(
      inspected ? inspected.headers : parsed.headers,
      ctx,
      localClient,
      settings,
      withinLimit,
    );
    const checks = inspected || skipChecks ? undefined : this.deps.checks;

    const rules = await applyHeaderRules(
      {
        queueId: id,
        arrivalTime: this.arrivalTime,
        sender,
        ...(this.req.fullName !== undefined ? { fullName: this.req.fullName } : {}),
        addMissing: settings.alwaysAddMissingHeaders || localClient,
        fromFormat: settings.fromFormat,
        myhostname: settings.myhostname,
        headerSizeLimit: settings.headerSizeLimit,
        hopcountLimit: settings.hopcountLimit,
        tokenLimit: settings.tokenLimit,
        dropHeaders: settings.dropHeaders,
        undisclosedHeader: settings.undisclosedHeader,
        ...(checks ? { checks } : {}),
        ctx,
        tokensWithinLimit: withinLimit,
      },
      primary,
    );
    for (const l of rules.log) log.info(`${id}: ${l}`);
    if (rules.reject) return { status: 'rejected', reply: rules.reject };
    if (rules.tooManyHops) return { status: 'rejected', reply: TOO_MANY_HOPS };
    if (rules.discard !== undefined) return { status: 'discarded', queueId: id };

    const body = inspected
      ? { hold: inspected.hold }
      : skipChecks
        ? { hold: false }
        : await this.checkBody(parsed.body, ctx, sender, settings.bodyChecksSizeLimit);
    if (body.verdict) return body.verdict;
    redirectAndBcc(recipients, inspected?.redirect ?? policy.redirect, [
      ...(policy.bcc ?? []),
      ...(inspected?.bcc ?? []),
    ]);
    if (recipients.length === 0) return { status: 'rejected', reply: NO_RECIPIENTS };

    // Stored as pieces: the body is never copied again.
    const content = [
      ...rules.headers,
      ...(parsed.separator ? [Buffer.from('\r\n')] : []),
      ...(inspected ? inspected.body : parsed.body),
    ];
    const hold = rules.hold !== undefined || body.hold || policy.hold === true;
    const filter = inspected?.filter ?? policy.filter;
    const smtputf8 =
      this.req.smtputf8 !== true &&
      settings.autodetect(this.req.origin) &&
      needsSmtputf8(
        sender,
        recipients.map((r) => r.address),
        rules.headers,
      )
        ? true
        : this.req.smtputf8;
    try {
      await store.enqueue(
        {
          queueId: id,
          state: hold ? 'hold' : 'incoming',
          arrivalTime: this.arrivalTime,
          sender,
          recipients,
          ...(this.req.envid !== undefined ? { envid: this.req.envid } : {}),
          ...(this.req.ret !== undefined ? { ret: this.req.ret } : {}),
          ...(this.req.body !== undefined ? { body: this.req.body } : {}),
          ...(smtputf8 !== undefined ? { smtputf8 } : {}),
          ...(this.req.verifyOnly === true ? { verifyOnly: true } : {}),
          ...(this.req.verifyProbe === true ? { verifyOnly: true, verifyProbe: true } : {}),
          ...(this.req.client
            ? {
                client: {
                  name: this.req.client.name,
                  addr: this.req.client.addr,
                  helo: this.req.client.helo,
                  port: this.req.client.port,
                  protocol: this.req.client.protocol,
                },
              }
            : {}),
          // A FILTER action (header/body checks, then the access policy) outranks the source's content_filter.
          ...(filter !== undefined ? { filter } : contentFilter !== '' ? { filter: contentFilter } : {}),
        },
        content,
        // Built here for this message alone and dropped after commit.
        true,
      );
    } catch (err) {
      if (!(err instanceof QueueStorageError)) throw err;
      log.warning(`${id}: ${err.message}`);
      return { status: 'rejected', reply: err.kind === 'nospace' ? NO_SPACE : WRITE_ERROR };
    }
    return { status: 'queued', queueId: id };
  }

  /**
   * recipient_bcc_maps, sender_bcc_maps and always_bcc: copies with
   * NOTIFY=NEVER (their failure never bounces to the sender), only for new
   * mail from outside (not notices or forwarding) and not with
   * no_address_mappings, as Postfix adds them.
   */
  private async addAutomaticBcc(
    recipients: StoredRecipient[],
    sender: string,
    ctx: RewriteContext,
    always: string,
  ): Promise<void> {
    if (ctx.noAddressMappings || INTERNAL_ORIGINS.has(this.req.origin)) return;
    const rw = this.deps.rewriter;
    const bccs: string[] = [];
    if (rw.recipientBcc) {
      for (const r of this.recipients) {
        const b = await rw.recipientBcc(r.address);
        if (b) bccs.push(b);
      }
    }
    const fromSender = await rw.senderBcc?.(sender);
    if (fromSender) bccs.push(fromSender);
    if (always !== '') bccs.push(always);
    if (bccs.length === 0) return;
    const never = (r: StoredRecipient): string => `${r.address.toLowerCase()}\0${(r.notify ?? []).join(',')}`;
    const seen = new Set(recipients.map(never));
    for (const bcc of bccs) {
      for (const address of await rw.recipient(bcc, ctx)) {
        const item: StoredRecipient = { address, original: bcc, notify: ['NEVER'] };
        if (seen.has(never(item)) || recipients.length >= MAX_RECIPIENTS) continue;
        seen.add(never(item));
        recipients.push(item);
      }
    }
  }

  /**
   * Addresses in From:/To:/... (header-addresses.ts): the local context for
   * local submissions and local_header_rewrite_clients, the remote one when
   * remote_header_rewrite_domain is set, otherwise headers stay as received.
   */
  private async rewriteHeaders(
    headers: LogicalHeader[],
    ctx: RewriteContext,
    local: boolean,
    settings: CleanupSettings,
    withinLimit: Set<LogicalHeader>,
  ): Promise<LogicalHeader[]> {
    const rw = this.deps.rewriter;
    if (!rw.header) return headers;
    const context = local ? 'local' : settings.remoteHeaderRewrite ? 'remote' : undefined;
    if (!context) return headers;
    const header = rw.header.bind(rw);
    return rewriteHeaderAddresses(
      headers,
      (address, kind) => header(address, kind, context, ctx.noAddressMappings === true),
      settings.tokenLimit,
      withinLimit,
    );
  }

  /** checks.inspect(), when the content checks have it. */
  private async inspect(
    parsed: ReturnType<typeof parseContent>,
    ctx: RewriteContext,
    sender: string,
    skipTables: boolean,
  ): Promise<ContentInspection | undefined> {
    const checks = this.deps.checks;
    if (!checks?.inspect) return undefined;
    if (checks.inert?.(skipTables) === true) {
      // What the pass would return with nothing configured, without walking the message.
      return {
        status: 'accept',
        headers: parsed.headers,
        body: parsed.body,
        hold: false,
        bcc: [],
      };
    }
    const first = this.recipients[0]?.address;
    return checks.inspect({
      headers: parsed.headers,
      separator: parsed.separator,
      // The MIME walk reads the body as one buffer; joined only here, when checks are configured.
      body: parsed.body.length === 1 ? (parsed.body[0] as Buffer) : Buffer.concat(parsed.body),
      ...(skipTables ? { skipTables } : {}),
      ctx: {
        ...ctx,
        sender,
        ...(first !== undefined ? { recipient: first } : {}),
        ...(this.req.client ? { client: this.req.client } : {}),
      },
    });
  }

  /** Rewrite and expand each recipient, dropping duplicates as Postfix does (up to duplicate_filter_limit). */
  private async rewriteRecipients(ctx: RewriteContext, limit: number): Promise<NewMessage['recipients'][number][]> {
    const seen = new Set<string>();
    const out: { address: string; original: string; orcpt?: string; notify?: readonly DsnNotify[] }[] = [];
    for (const r of this.recipients) {
      for (const address of await this.deps.rewriter.recipient(r.address, ctx)) {
        const key = `${address}\0${r.orcpt ?? ''}\0${(r.notify ?? []).join(',')}`;
        if (seen.has(key)) continue;
        if (seen.size < limit) seen.add(key);
        const item: (typeof out)[number] = { address, original: r.address };
        if (r.orcpt !== undefined) item.orcpt = r.orcpt;
        if (r.notify !== undefined) item.notify = r.notify;
        out.push(item);
      }
    }
    return out;
  }

  /** body_checks over the first body_checks_size_limit bytes of the body. */
  private async checkBody(
    body: readonly Buffer[],
    ctx: RewriteContext,
    sender: string,
    limit: number,
  ): Promise<{ verdict?: CleanupVerdict; hold: boolean }> {
    const checks = this.deps.checks;
    if (!checks) return { hold: false };
    const text = joinedPrefix(body, limit).toString('utf8');
    let hold = false;
    for (const l of text.split(/\r?\n/)) {
      const v = await checks.body(l, ctx);
      const what = `body ${printable(l)}; from=<${printable(sender)}>`;
      if (v.action === 'reject') {
        this.deps.log.info(`${this.queueId}: reject: ${what}: ${v.reply.dsn} ${printable(v.reply.text)}`);
        return { verdict: { status: 'rejected', reply: v.reply }, hold };
      }
      if (v.action === 'discard') {
        this.deps.log.info(`${this.queueId}: discard: ${what}: ${printable(v.text)}`);
        return { verdict: { status: 'discarded', queueId: this.queueId }, hold };
      }
      if (v.action === 'hold') {
        this.deps.log.info(`${this.queueId}: hold: ${what}: ${printable(v.text)}`);
        hold = true;
      }
    }
    return { hold };
  }
}

/**
 * sendmail -t: addresses from To:/Cc:/Bcc:, or from the Resent- forms when
 * the message has any (it is being re-sent to them).
 */
function extractRecipients(headers: readonly LogicalHeader[], limit: number): string[] {
  const resent = headers.some((h) => h.lname === 'resent-to' || h.lname === 'resent-cc' || h.lname === 'resent-bcc');
  const names = resent ? ['resent-to', 'resent-cc', 'resent-bcc'] : ['to', 'cc', 'bcc'];
  const out: string[] = [];
  for (const h of headers) {
    if (names.includes(h.lname)) out.push(...parseAddressList(headerValue(h), Math.max(1, limit - out.length)));
  }
  return out;
}

/** The open request's policy actions with those given at commit. */
function mergeActions(open: CleanupPolicyActions, late: CleanupPolicyActions): CleanupPolicyActions {
  const filter = late.filter ?? open.filter;
  const redirect = late.redirect ?? open.redirect;
  return {
    hold: open.hold === true || late.hold === true,
    discard: open.discard === true || late.discard === true,
    ...(filter !== undefined ? { filter } : {}),
    ...(redirect !== undefined ? { redirect } : {}),
    bcc: [...(open.bcc ?? []), ...(late.bcc ?? [])],
  };
}

type StoredRecipient = NewMessage['recipients'][number];

/**
 * header/body checks' REDIRECT sends every recipient's copy to one address
 * (each original recipient is kept for DSN and logging), and BCC adds
 * recipients, as cleanup(8) writes them into the queue file.
 */
function redirectAndBcc(recipients: StoredRecipient[], redirect: string | undefined, bcc: readonly string[]): void {
  if (redirect !== undefined) {
    for (let i = 0; i < recipients.length; i++) {
      const r = recipients[i];
      if (r) recipients[i] = { ...r, address: redirect };
    }
  }
  for (const address of bcc) {
    if (!recipients.some((r) => r.address === address)) recipients.push({ address, original: address });
  }
}
