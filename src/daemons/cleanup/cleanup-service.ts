// cleanup(8) as a service module: implements CleanupService over the durable
// queue store. smtpd, pickup, sendmail and bounce open a transaction here;
// the message reaches the queue only through commit(). Runs inside the core
// process (as $mail_owner); touches only the queue store.
import type { Logger } from '../../global/log/logger.js';
import type { CleanupOpenRequest, CleanupService, CleanupTransaction } from '../../global/queue/cleanup-api.js';
import type { SegmentStore } from '../../global/queue/segment-store.js';
import type { ParamReader } from '../../global/params/types.js';
import { QualifyingRewriter, type CleanupAddressRewriter, type CleanupContentChecks } from './hooks.js';
import { Transaction } from './transaction.js';

export interface CleanupServerOptions {
  readonly store: SegmentStore;
  readonly config: ParamReader;
  /** `postfix/cleanup`. */
  readonly logger: Logger;
  /** Address rewriting (trivial-rewrite); defaults to append_at_myorigin qualification only. */
  readonly rewriter?: CleanupAddressRewriter;
  /** header_checks/body_checks; none by default. */
  readonly checks?: CleanupContentChecks;
  /**
   * The configuration of the master.cf service a request names (main.cf
   * with that smtpd/pickup entry's `-o`), whose content_filter and
   * receive_override_options apply to its mail; cleanup's own `config`
   * governs everything else, as in Postfix.
   */
  readonly sourceConfig?: (service: string) => ParamReader | undefined;
  /** `-o content_filter=...` on the cleanup entry: filters mail from every source (see TransactionDeps). */
  readonly cleanupFilter?: string;
}

export class CleanupServer implements CleanupService {
  private readonly rewriter: CleanupAddressRewriter;

  constructor(private readonly opts: CleanupServerOptions) {
    this.rewriter =
      opts.rewriter ?? new QualifyingRewriter(opts.config.get('myorigin'), opts.config.bool('append_at_myorigin'));
  }

  open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const source = req.service !== undefined ? this.opts.sourceConfig?.(req.service) : undefined;
    return Promise.resolve(
      new Transaction(
        {
          store: this.opts.store,
          cfg: this.opts.config,
          ...(source ? { source } : {}),
          log: this.opts.logger,
          rewriter: this.rewriter,
          ...(this.opts.checks ? { checks: this.opts.checks } : {}),
          ...(this.opts.cleanupFilter ? { cleanupFilter: this.opts.cleanupFilter } : {}),
        },
        req,
      ),
    );
  }

  reserveQueueIds(count: number): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(this.opts.store.newQueueId());
    return ids;
  }

  releaseQueueIds(ids: readonly string[]): void {
    for (const id of ids) this.opts.store.releaseQueueId(id);
  }
}
