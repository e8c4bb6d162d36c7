// The restriction list evaluator (Postfix's generic_checks()): run the
// restrictions of a list in order until one permits or rejects; expand
// restriction classes and table-supplied lists in place; keep warn_if_reject,
// defer_if_permit and defer_if_reject state. One method per restriction family,
// dispatched from a table so no restriction name is interpreted twice.
import {
  addressLiteral,
  checkPathSyntax,
  isFqdn,
  isValidHostname,
  splitAddress,
} from '../../../global/addr/address.js';
import { accessAddressKeys, clientAddressKeys, domainKeys } from '../../../global/addr/lookup-keys.js';
import { DictRetryError } from '../../../global/dict/dict-api.js';
import { applyAccessValue, splitRestrictions } from './access-actions.js';
import type { PolicyContext } from './context.js';
import {
  checkServerAccess,
  clientQuery,
  permitDnswl,
  rejectRbl,
  rejectUnknownAddress,
  rejectUnknownHelo,
} from './dns-checks.js';
import { permitMxBackup } from './mx-backup.js';
import { policyAction } from './policy-service.js';
import { permitTlsAllClientcerts, permitTlsClientcerts, senderLoginMismatch } from './tls-sasl-checks.js';
import { checkUnlisted } from './recipient-maps.js';
import { rejectUnverified } from './verify-checks.js';
import { CLASS, namaddr, replyAddress, stageSubject } from './replies.js';
import { DUNNO, OK, type EvalState, type StepResult } from './types.js';

/** Restriction classes and nested table values may refer to each other; stop a loop here. */
const MAX_DEPTH = 20;
/** `sleep` is for slowing down zombies, not for hanging a session. */
const MAX_SLEEP_SECONDS = 60;

type Handler = (state: EvalState, arg: string) => Promise<StepResult>;

export class Evaluator {
  private readonly simple: ReadonlyMap<string, (state: EvalState) => Promise<StepResult>>;
  private readonly withArg: ReadonlyMap<string, Handler>;

  constructor(
    private readonly ctx: PolicyContext,
    private readonly classes: ReadonlyMap<string, string[]>,
  ) {
    this.simple = this.simpleHandlers();
    this.withArg = this.argHandlers();
  }

  /** Whether `name` needs a following argument (a table, a DNS zone, a server). */
  takesArgument(name: string): boolean {
    return this.withArg.has(name);
  }

  isKnown(name: string): boolean {
    return this.simple.has(name) || this.withArg.has(name) || this.classes.has(name) || MODIFIERS.has(name);
  }

  async evalList(state: EvalState, list: readonly string[]): Promise<StepResult> {
    if (state.depth >= MAX_DEPTH) {
      this.ctx.logger.warning('restriction classes or table lists nested too deeply');
      return this.ctx.configError(state);
    }
    state.depth++;
    try {
      for (let i = 0; i < list.length; i++) {
        const name = list[i] ?? '';
        const lname = name.toLowerCase();
        if (lname === 'warn_if_reject') {
          state.warnIfReject = true;
          continue;
        }
        let arg = '';
        if (this.withArg.has(lname)) {
          const next = list[i + 1];
          if (next === undefined) {
            this.ctx.logger.warning(`restriction ${name} requires a table or domain name argument`);
            return this.ctx.configError(state);
          }
          arg = next;
          i++;
        }
        const r = await this.runOne(state, name, lname, arg);
        state.warnIfReject = false;
        if (r.kind !== 'dunno') return r;
      }
      return DUNNO;
    } finally {
      state.depth--;
    }
  }

  private async runOne(state: EvalState, name: string, lname: string, arg: string): Promise<StepResult> {
    try {
      const simple = this.simple.get(lname);
      if (simple) return await simple(state);
      const withArg = this.withArg.get(lname);
      if (withArg) return await withArg(state, arg);
      const cls = this.classes.get(name);
      if (cls) return await this.evalList(state, cls);
      this.ctx.logger.warning(`unknown smtpd restriction: "${name}"`);
      return this.ctx.configError(state);
    } catch (e) {
      if (e instanceof DictRetryError)
        return this.ctx.lookupFailure(state, stageSubject(state.stage, state.facts, this.ctx.config)[0]);
      this.ctx.logger.warning(`${name}: ${(e as Error).message}`);
      return this.ctx.configError(state);
    }
  }

  private generic(state: EvalState, code: number, dsn: string, why: string): StepResult {
    const [name, cls] = stageSubject(state.stage, state.facts, this.ctx.config);
    return this.ctx.reject(state, code, dsn, `<${name}>: ${cls} rejected: ${why}`);
  }

  private saved(state: EvalState, code: number, why: string) {
    const [name, cls] = stageSubject(state.stage, state.facts, this.ctx.config);
    return this.ctx.savedReply(state, code, '4.7.0', `<${name}>: ${cls} rejected: ${why}`);
  }

  private simpleHandlers(): Map<string, (state: EvalState) => Promise<StepResult>> {
    const ctx = this.ctx;
    const f = (s: EvalState) => s.facts;
    const code = (p: string, d: number) => ctx.intParam(p, d);
    const h = new Map<string, (state: EvalState) => Promise<StepResult>>();
    const sync = (fn: (s: EvalState) => StepResult) => (s: EvalState) => Promise.resolve(fn(s));
    h.set(
      'permit',
      sync(() => OK),
    );
    h.set(
      'dunno',
      sync(() => DUNNO),
    );
    h.set(
      'reject',
      sync((s) => this.generic(s, code('reject_code', 554), '5.7.1', 'Access denied')),
    );
    h.set(
      'defer',
      sync((s) => this.generic(s, code('defer_code', 450), '4.3.2', 'Try again later')),
    );
    h.set(
      'defer_if_permit',
      sync((s) => {
        s.deferIfPermit ??= this.saved(s, code('defer_code', 450), 'defer_if_permit requested');
        return DUNNO;
      }),
    );
    h.set(
      'defer_if_reject',
      sync((s) => {
        s.deferIfReject ??= this.saved(s, code('defer_code', 450), 'defer_if_reject requested');
        return DUNNO;
      }),
    );
    h.set('permit_mynetworks', async (s) =>
      (await (await ctx.matchList('mynetworks')).matchAddr(f(s).clientAddr)) ? OK : DUNNO,
    );
    h.set(
      'permit_sasl_authenticated',
      sync((s) => (f(s).saslUsername ? OK : DUNNO)),
    );
    h.set('permit_tls_clientcerts', (s) => permitTlsClientcerts(ctx, s));
    h.set(
      'permit_tls_all_clientcerts',
      sync((s) => permitTlsAllClientcerts(s)),
    );
    for (const [name, mode] of [
      ['reject_sender_login_mismatch', 'both'],
      ['reject_authenticated_sender_login_mismatch', 'authenticated'],
      ['reject_unauthenticated_sender_login_mismatch', 'unauthenticated'],
      ['reject_known_sender_login_mismatch', 'known'],
    ] as const) {
      h.set(name, (s) => senderLoginMismatch(ctx, s, mode));
    }
    h.set(
      'reject_plaintext_session',
      sync((s) =>
        f(s).tls ? DUNNO : ctx.reject(s, code('plaintext_reject_code', 450), '4.7.1', 'Session encryption is required'),
      ),
    );
    h.set('permit_auth_destination', (s) => this.authDestination(s, 'permit'));
    h.set('permit_mx_backup', (s) => permitMxBackup(ctx, s));
    h.set('reject_unauth_destination', (s) => this.authDestination(s, 'reject'));
    h.set('defer_unauth_destination', (s) => this.authDestination(s, 'defer'));
    h.set(
      'reject_unauth_pipelining',
      sync((s) =>
        f(s).pipelinedEarly ? this.generic(s, 503, '5.5.0', 'Improper use of SMTP command pipelining') : DUNNO,
      ),
    );
    h.set(
      'reject_invalid_helo_hostname',
      sync((s) => this.invalidHelo(s)),
    );
    h.set(
      'reject_invalid_hostname',
      sync((s) => this.invalidHelo(s)),
    );
    h.set(
      'reject_non_fqdn_helo_hostname',
      sync((s) => this.nonFqdnHelo(s)),
    );
    h.set(
      'reject_non_fqdn_hostname',
      sync((s) => this.nonFqdnHelo(s)),
    );
    h.set('reject_unknown_helo_hostname', (s) => rejectUnknownHelo(ctx, s));
    h.set('reject_unknown_hostname', (s) => rejectUnknownHelo(ctx, s));
    h.set(
      'reject_non_fqdn_sender',
      sync((s) => this.nonFqdnAddress(s, f(s).sender, CLASS.sender)),
    );
    h.set(
      'reject_non_fqdn_recipient',
      sync((s) => this.nonFqdnAddress(s, f(s).recipient, CLASS.recipient)),
    );
    h.set('reject_unknown_sender_domain', (s) => rejectUnknownAddress(ctx, s, f(s).sender, 'sender'));
    h.set('reject_unknown_recipient_domain', (s) => rejectUnknownAddress(ctx, s, f(s).recipient, 'recipient'));
    h.set(
      'reject_unknown_client_hostname',
      sync((s) => this.unknownClient(s, f(s).clientName, 'hostname')),
    );
    h.set(
      'reject_unknown_client',
      sync((s) => this.unknownClient(s, f(s).clientName, 'hostname')),
    );
    h.set(
      'reject_unknown_reverse_client_hostname',
      sync((s) => this.unknownClient(s, f(s).reverseClientName, 'reverse hostname')),
    );
    h.set('reject_unlisted_sender', (s) => this.unlisted(s, 'sender'));
    h.set('reject_unlisted_recipient', (s) => this.unlisted(s, 'recipient'));
    h.set('reject_unverified_sender', (s) => rejectUnverified(ctx, s, 'sender'));
    h.set('reject_unverified_recipient', (s) => rejectUnverified(ctx, s, 'recipient'));
    h.set(
      'reject_multi_recipient_bounce',
      sync((s) => {
        const fs = f(s);
        if (fs.sender !== '' || fs.sender === undefined) return DUNNO;
        // At RCPT the current recipient is not counted yet; at DATA all are.
        const count = s.stage === 'data' || s.stage === 'end-of-data' ? fs.recipientCount : fs.recipientCount + 1;
        return count > 1
          ? this.generic(s, code('multi_recipient_bounce_reject_code', 550), '5.5.3', 'Multi-recipient bounce')
          : DUNNO;
      }),
    );
    return h;
  }

  private argHandlers(): Map<string, Handler> {
    const ctx = this.ctx;
    const h = new Map<string, Handler>();
    const f = (s: EvalState) => s.facts;
    const nested = (s: EvalState, list: string[]) => this.evalList(s, list);
    const access = async (
      s: EvalState,
      spec: string,
      keys: string[],
      name: string,
      cls: string,
    ): Promise<StepResult> => {
      const dict = await ctx.table(spec);
      for (const key of keys) {
        const value = await dict.lookup(key);
        if (value !== undefined)
          return applyAccessValue(ctx, s, value, { name, cls, source: spec, allowOk: true }, nested);
      }
      return DUNNO;
    };
    const parent = () => ({ parentMatchesSubdomains: ctx.parentMatches('smtpd_access_maps') });
    const addrKeys = (addr: string) =>
      accessAddressKeys(addr, {
        ...parent(),
        delimiters: ctx.config.get('recipient_delimiter'),
        ownerRequestSpecial: ctx.boolParam('owner_request_special'),
        nullKey: ctx.config.get('smtpd_null_access_lookup_key'),
      });
    const hostKeys = (name: string) => (name === '' || name === 'unknown' ? [] : domainKeys(name, parent()));
    const domainOf = (addr: string | undefined) =>
      addr === undefined || addr === '' ? undefined : splitAddress(addr).domain || undefined;

    h.set('check_client_access', (s, spec) =>
      access(
        s,
        spec,
        [...hostKeys(f(s).clientName), ...clientAddressKeys(f(s).clientAddr)],
        namaddr(f(s), ctx.config),
        CLASS.client,
      ),
    );
    h.set('check_reverse_client_hostname_access', (s, spec) =>
      access(
        s,
        spec,
        [...hostKeys(f(s).reverseClientName), ...clientAddressKeys(f(s).clientAddr)],
        `${f(s).reverseClientName}[${f(s).clientAddr}]`,
        CLASS.reverseClient,
      ),
    );
    h.set('check_helo_access', (s, spec) => {
      const helo = f(s).helo;
      return helo === undefined ? Promise.resolve(DUNNO) : access(s, spec, hostKeys(helo), helo, CLASS.helo);
    });
    h.set('check_sender_access', (s, spec) => {
      const a = f(s).sender;
      return a === undefined ? Promise.resolve(DUNNO) : access(s, spec, addrKeys(a), replyAddress(a), CLASS.sender);
    });
    h.set('check_recipient_access', (s, spec) => {
      const a = f(s).recipient;
      return a === undefined ? Promise.resolve(DUNNO) : access(s, spec, addrKeys(a), replyAddress(a), CLASS.recipient);
    });
    h.set('check_etrn_access', (s, spec) => {
      const d = f(s).etrnDomain;
      return d === undefined ? Promise.resolve(DUNNO) : access(s, spec, hostKeys(d), d, CLASS.etrn);
    });
    h.set('check_sasl_access', (s, spec) => {
      const u = f(s).saslUsername;
      return u === undefined ? Promise.resolve(DUNNO) : access(s, spec, [u], namaddr(f(s), ctx.config), CLASS.client);
    });
    h.set('check_ccert_access', (s, spec) => {
      const c = f(s).tlsCert;
      if (!c) return Promise.resolve(DUNNO);
      return access(s, spec, [c.fingerprint, c.pubkeyFingerprint], namaddr(f(s), ctx.config), CLASS.client);
    });
    for (const kind of ['mx', 'ns', 'a'] as const) {
      const k = kind.toUpperCase() as 'MX' | 'NS' | 'A';
      h.set(`check_sender_${kind}_access`, (s, spec) =>
        checkServerAccess(
          ctx,
          s,
          spec,
          domainOf(f(s).sender),
          k,
          { name: replyAddress(f(s).sender ?? ''), cls: CLASS.sender },
          nested,
        ),
      );
      h.set(`check_recipient_${kind}_access`, (s, spec) =>
        checkServerAccess(
          ctx,
          s,
          spec,
          domainOf(f(s).recipient),
          k,
          { name: replyAddress(f(s).recipient ?? ''), cls: CLASS.recipient },
          nested,
        ),
      );
      h.set(`check_helo_${kind}_access`, (s, spec) =>
        checkServerAccess(ctx, s, spec, f(s).helo, k, { name: f(s).helo ?? '', cls: CLASS.helo }, nested),
      );
      h.set(`check_client_${kind}_access`, (s, spec) => {
        const n = f(s).clientName;
        return checkServerAccess(
          ctx,
          s,
          spec,
          n === 'unknown' ? undefined : n,
          k,
          { name: namaddr(f(s), ctx.config), cls: CLASS.client },
          nested,
        );
      });
    }
    h.set('reject_rbl_client', (s, zone) =>
      rejectRbl(ctx, s, zone, { cls: CLASS.client, what: f(s).clientAddr, query: clientQuery(f(s).clientAddr) }),
    );
    h.set('reject_rhsbl_client', (s, zone) => {
      const n = f(s).clientName;
      return rejectRbl(ctx, s, zone, { cls: CLASS.client, what: n, query: n === 'unknown' ? undefined : n });
    });
    h.set('reject_rhsbl_reverse_client', (s, zone) => {
      const n = f(s).reverseClientName;
      return rejectRbl(ctx, s, zone, { cls: CLASS.reverseClient, what: n, query: n === 'unknown' ? undefined : n });
    });
    h.set('reject_rhsbl_helo', (s, zone) => {
      const n = f(s).helo;
      const q = n === undefined || addressLiteral(n) !== undefined ? undefined : n;
      return rejectRbl(ctx, s, zone, { cls: CLASS.helo, what: n ?? '', query: q });
    });
    h.set('reject_rhsbl_sender', (s, zone) => {
      const d = domainOf(f(s).sender);
      return rejectRbl(ctx, s, zone, { cls: CLASS.sender, what: d ?? '', query: d });
    });
    h.set('reject_rhsbl_recipient', (s, zone) => {
      const d = domainOf(f(s).recipient);
      return rejectRbl(ctx, s, zone, { cls: CLASS.recipient, what: d ?? '', query: d });
    });
    h.set('permit_dnswl_client', (s, zone) => permitDnswl(ctx, zone, clientQuery(f(s).clientAddr)));
    h.set('permit_rhswl_client', (s, zone) => {
      const n = f(s).clientName;
      return permitDnswl(ctx, zone, n === 'unknown' ? undefined : n);
    });
    h.set('check_policy_service', async (s, endpoint) => {
      const action = await policyAction(ctx, s, endpoint);
      const [name, cls] = stageSubject(s.stage, f(s), ctx.config);
      return applyAccessValue(
        ctx,
        s,
        action,
        { name, cls, source: `policy service ${endpoint}`, allowOk: true },
        nested,
      );
    });
    h.set('sleep', async (_s, seconds) => {
      const n = Math.min(MAX_SLEEP_SECONDS, Math.max(0, Number.parseInt(seconds, 10) || 0));
      await new Promise((r) => setTimeout(r, n * 1000));
      return DUNNO;
    });
    return h;
  }

  private async authDestination(s: EvalState, mode: 'permit' | 'reject' | 'defer'): Promise<StepResult> {
    const rcpt = s.facts.recipient;
    if (rcpt === undefined) return DUNNO;
    const r = await (await this.ctx.resolverFor()).resolve(rcpt);
    // Mail routed through us to somewhere else (user@remote@ours and friends) is never authorized by destination.
    const routedAway = r.routed && !this.ctx.boolParam('allow_untrusted_routing');
    const authorized = !routedAway && r.cls !== 'default';
    if (mode === 'permit') return authorized ? OK : DUNNO;
    if (authorized) return DUNNO;
    // defer_unauth_destination answers relay_domains_reject_code as a 4xx (554 becomes 454), as Postfix does.
    const rejectCode = this.ctx.intParam('relay_domains_reject_code', 554);
    const code = mode === 'defer' && rejectCode >= 500 ? rejectCode - 100 : rejectCode;
    return this.ctx.reject(s, code, '5.7.1', `<${replyAddress(rcpt)}>: Relay access denied`);
  }

  private invalidHelo(s: EvalState): StepResult {
    const helo = s.facts.helo;
    if (helo === undefined) return DUNNO;
    const lit = addressLiteral(helo);
    const ok = lit !== undefined ? checkPathSyntax(`x@${helo}`) === undefined : isValidHostname(helo);
    return ok
      ? DUNNO
      : this.ctx.reject(
          s,
          this.ctx.intParam('invalid_hostname_reject_code', 501),
          '5.5.2',
          `<${helo}>: Helo command rejected: Invalid name`,
        );
  }

  private nonFqdnHelo(s: EvalState): StepResult {
    const helo = s.facts.helo;
    if (helo === undefined || addressLiteral(helo) !== undefined || isFqdn(helo)) return DUNNO;
    return this.ctx.reject(
      s,
      this.ctx.intParam('non_fqdn_reject_code', 504),
      '5.5.2',
      `<${helo}>: Helo command rejected: need fully-qualified hostname`,
    );
  }

  private nonFqdnAddress(s: EvalState, addr: string | undefined, cls: string): StepResult {
    if (addr === undefined || addr === '') return DUNNO;
    const { domain, hasAt } = splitAddress(addr);
    if (hasAt && (addressLiteral(domain) !== undefined || isFqdn(domain))) return DUNNO;
    return this.ctx.reject(
      s,
      this.ctx.intParam('non_fqdn_reject_code', 504),
      '5.5.2',
      `<${replyAddress(addr)}>: ${cls} rejected: need fully-qualified address`,
    );
  }

  private unknownClient(s: EvalState, name: string, what: string): StepResult {
    if (name !== 'unknown') return DUNNO;
    const text = `Client host rejected: cannot find your ${what}, [${s.facts.clientAddr}]`;
    return this.ctx.reject(s, this.ctx.intParam('unknown_client_reject_code', 450), '4.7.25', text);
  }

  private async unlisted(s: EvalState, which: 'sender' | 'recipient'): Promise<StepResult> {
    const addr = which === 'sender' ? s.facts.sender : s.facts.recipient;
    if (addr === undefined) return DUNNO;
    if (which === 'sender') s.senderMapsChecked = true;
    else s.rcptMapsChecked = true;
    return checkUnlisted(this.ctx, s, addr, which);
  }
}

const MODIFIERS = new Set(['warn_if_reject']);

/** Split a restriction parameter's value (exported for the start-up sanity check). */
export { splitRestrictions };
