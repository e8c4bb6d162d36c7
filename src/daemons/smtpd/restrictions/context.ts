// What every restriction handler works with: the configuration, opened tables
// (cached, opened on first use as Postfix opens them at start-up), the domain
// and network lists, the address resolver, and the one place where a reject
// is built so that warn_if_reject, defer_if_reject and soft_bounce apply to
// every restriction alike.
import { DictRetryError, type Dict } from '../../../global/dict/dict-api.js';
import type { Logger } from '../../../global/log/logger.js';
import { MatchList, parentDomainMatcher } from '../../../global/match/match-list.js';
import type { ParamReader } from '../../../global/params/types.js';
import { reply, type SmtpReply } from '../../../global/smtp/reply.js';
import type { AddressVerifier } from '../../verify/verify-api.js';
import { AddressResolver } from './resolve-class.js';
import { fixDsnClass, logLine, printable, replyText } from './replies.js';
import {
  DUNNO,
  type DictOpener,
  type EvalState,
  type PolicyResolver,
  type StepResult,
  type SmtpdPolicyDeps,
} from './types.js';

export class PolicyContext {
  readonly config: ParamReader;
  readonly logger: Logger;
  readonly resolver: PolicyResolver;
  readonly parentMatches: (feature: string) => boolean;
  private readonly openDict: DictOpener;
  private readonly dicts = new Map<string, Promise<Dict>>();
  private readonly lists = new Map<string, Promise<MatchList>>();
  private addrResolver: Promise<AddressResolver> | undefined;

  constructor(private readonly deps: SmtpdPolicyDeps) {
    this.config = deps.config;
    this.logger = deps.logger;
    this.resolver = deps.resolver;
    this.openDict = deps.openDict;
    this.parentMatches = parentDomainMatcher(deps.config.get('parent_domain_matches_subdomains'));
  }

  /** A table by its `type:name`, opened once. */
  table(spec: string): Promise<Dict> {
    let d = this.dicts.get(spec);
    if (!d) {
      d = this.openDict(spec);
      this.dicts.set(spec, d);
      // A table that failed to open is retried on the next use, not cached as broken.
      d.catch(() => this.dicts.delete(spec));
    }
    return d;
  }

  /** A match list from a parameter value, built once per parameter. */
  matchList(param: string): Promise<MatchList> {
    let l = this.lists.get(param);
    if (!l) {
      l = MatchList.create(this.config.get(param), {
        paramName: param,
        parentMatchesSubdomains: this.parentMatches(param),
        openDict: (spec) => this.table(spec),
      });
      this.lists.set(param, l);
    }
    return l;
  }

  /** The verify(8) service now, if any (reject_unverified_sender/_recipient). */
  verifier(): AddressVerifier | undefined {
    return this.deps.verifier?.();
  }

  resolverFor(): Promise<AddressResolver> {
    this.addrResolver ??= (async () => {
      const [mydestination, relayDomains, virtualAliasDomains, virtualMailboxDomains] = await Promise.all([
        this.matchList('mydestination'),
        this.matchList('relay_domains'),
        this.matchList('virtual_alias_domains'),
        this.matchList('virtual_mailbox_domains'),
      ]);
      const lists = { mydestination, relayDomains, virtualAliasDomains, virtualMailboxDomains };
      return new AddressResolver(this.config, lists, this.deps.localAddresses);
    })();
    return this.addrResolver;
  }

  /** Look up keys in order in several tables (a `maps` parameter); first hit wins. */
  async lookupFirst(
    specs: readonly string[],
    keys: readonly string[],
  ): Promise<{ spec: string; key: string; value: string } | undefined> {
    for (const spec of specs) {
      const dict = await this.table(spec);
      for (const key of keys) {
        const value = await dict.lookup(key);
        if (value !== undefined) return { spec, key, value };
      }
    }
    return undefined;
  }

  /**
   * Build a reject the way Postfix's smtpd_check_reject() does: soft_bounce and
   * defer_if_reject turn 5xx into 4xx, the DSN class follows the code, and
   * warn_if_reject logs a `reject_warning` and lets the request continue.
   */
  reject(state: EvalState, code: number, dsn: string, text: string): StepResult {
    if (code >= 500 && state.deferIfReject) {
      if (state.warnIfReject) return this.warnOnly(state, replyText(state.deferIfReject.reply));
      return { kind: 'reject', ...state.deferIfReject };
    }
    // soft_bounce: nothing is rejected for good, so a configuration mistake costs a delay, not mail.
    const c = code >= 500 && this.boolParam('soft_bounce') ? code - 100 : code;
    const r: SmtpReply = reply(c, fixDsnClass(c, dsn), printable(text));
    if (state.warnIfReject) return this.warnOnly(state, replyText(r));
    return {
      kind: 'reject',
      reply: r,
      logText: logLine('reject', state.stage, state.facts, this.config, replyText(r)),
    };
  }

  private warnOnly(state: EvalState, text: string): StepResult {
    this.logWhatsup(state, 'reject_warning', text);
    return DUNNO;
  }

  /**
   * A 4xx reply saved for later (defer_if_permit, defer_if_reject): built like
   * any reject but never subject to warn_if_reject or an earlier defer_if_reject.
   */
  savedReply(state: EvalState, code: number, dsn: string, text: string): { reply: SmtpReply; logText: string } {
    const r = reply(code, fixDsnClass(code, dsn), printable(text));
    return { reply: r, logText: logLine('reject', state.stage, state.facts, this.config, replyText(r)) };
  }

  /** `451 4.3.0 <name>: Temporary lookup failure`, for tables that could not answer. */
  lookupFailure(state: EvalState, name: string): StepResult {
    return this.reject(state, 451, '4.3.0', `<${name}>: Temporary lookup failure`);
  }

  /** `451 4.3.5 Server configuration error`, for mistakes in main.cf or a table. */
  configError(state: EvalState): StepResult {
    return this.reject(state, 451, '4.3.5', 'Server configuration error');
  }

  /** A mail log line for HOLD, WARN, INFO and friends: `QUEUEID: what: RCPT from ...`. */
  logWhatsup(state: EvalState, what: string, text: string): void {
    const id = state.facts.queueId ?? 'NOQUEUE';
    this.logger.info(`${id}: ${logLine(what, state.stage, state.facts, this.config, text)}`);
  }

  intParam(name: string, fallback: number): number {
    try {
      return this.config.int(name);
    } catch {
      this.logger.warning(`bad numerical configuration: ${name} = ${this.config.get(name)}`);
      return fallback;
    }
  }

  boolParam(name: string): boolean {
    try {
      return this.config.bool(name);
    } catch {
      return false;
    }
  }
}

export function isRetry(e: unknown): boolean {
  return e instanceof DictRetryError;
}
