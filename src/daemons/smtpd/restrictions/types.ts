// Types shared by the restriction evaluator's files: the DNS resolver the
// policy depends on (injected, so tests never touch the network), the
// dependencies of createSmtpdPolicy, and the per-evaluation state.
import type { Dict } from '../../../global/dict/dict-api.js';
import type { Logger } from '../../../global/log/logger.js';
import type { ParamReader } from '../../../global/params/types.js';
import type { SmtpReply } from '../../../global/smtp/reply.js';
import type { AddressVerifier } from '../../verify/verify-api.js';
import type { PolicyEffect, RestrictionStage, SessionFacts } from '../policy-api.js';

export type DnsType = 'A' | 'AAAA' | 'MX' | 'NS' | 'TXT' | 'PTR';

/**
 * A DNS answer as the restrictions need it. `notfound` covers NXDOMAIN and
 * "no records of this type"; `tempfail` is SERVFAIL, timeout and the like.
 * MX answers are host names ordered by preference; `.` is a null MX (RFC 7505).
 */
export type DnsAnswer =
  | {
      readonly status: 'ok';
      readonly records: readonly string[];
      /** MX answers: each record's preference (same order); without it each host counts as less preferred than the one before. */
      readonly preferences?: readonly number[];
    }
  | { readonly status: 'notfound' }
  | { readonly status: 'tempfail'; readonly reason: string };

export interface PolicyResolver {
  query(name: string, type: DnsType): Promise<DnsAnswer>;
}

export type DictOpener = (spec: string) => Promise<Dict>;

export interface SmtpdPolicyDeps {
  readonly config: ParamReader;
  readonly openDict: DictOpener;
  readonly resolver: PolicyResolver;
  readonly logger: Logger;
  /** This host's interface addresses, for `inet_interfaces = all` and address literals; defaults to os.networkInterfaces(). */
  readonly localAddresses?: readonly string[];
  /** The verify(8) service at the time of a reject_unverified_* check; none → "address verification problem". */
  readonly verifier?: () => AddressVerifier | undefined;
}

/** The outcome of one restriction: stop with permit, keep going, or stop with a reply. */
export type StepResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'dunno' }
  | { readonly kind: 'reject'; readonly reply: SmtpReply; readonly logText: string };

export const OK: StepResult = { kind: 'ok' };
export const DUNNO: StepResult = { kind: 'dunno' };

/** State of one `check(stage, facts)` call, shared by every restriction it runs. */
export interface EvalState {
  readonly stage: RestrictionStage;
  readonly facts: SessionFacts;
  /** The first defer_if_permit reason; applied if the stage ends in permit. */
  deferIfPermit: { reply: SmtpReply; logText: string } | undefined;
  /** Set by defer_if_reject / DEFER_IF_REJECT: a later 5xx is answered with this 4xx instead. */
  deferIfReject: { reply: SmtpReply; logText: string } | undefined;
  /** Set by warn_if_reject: the next restriction only logs its reject. */
  warnIfReject: boolean;
  readonly effects: PolicyEffect[];
  /** Nesting depth of restriction classes and table-supplied lists. */
  depth: number;
  /** Whether the stage's implicit unlisted-recipient check already ran. */
  rcptMapsChecked: boolean;
  senderMapsChecked: boolean;
}
