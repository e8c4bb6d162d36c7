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
  /** The effective configuration for a master.cf service (its `-o` overrides); defaults to `config`. */
  readonly configFor?: (service: string) => ParamReader;
}

export class CleanupServer implements CleanupService {
  private readonly rewriter: CleanupAddressRewriter;

  constructor(private readonly opts: CleanupServerOptions) {
    this.rewriter =
      opts.rewriter ?? new QualifyingRewriter(opts.config.get('myorigin'), opts.config.bool('append_at_myorigin'));
  }

  open(req: CleanupOpenRequest): Promise<CleanupTransaction> {
    const cfg = req.service && this.opts.configFor ? this.opts.configFor(req.service) : this.opts.config;
    return Promise.resolve(
      new Transaction(
        {
          store: this.opts.store,
          cfg,
          log: this.opts.logger,
          rewriter: this.rewriter,
          ...(this.opts.checks ? { checks: this.opts.checks } : {}),
        },
        req,
      ),
    );
  }
}
