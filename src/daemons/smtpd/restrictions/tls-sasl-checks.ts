// Restrictions that read what the TLS and SASL layers learned about the
// client (postconf(5) permit_tls_clientcerts, permit_tls_all_clientcerts,
// check_ccert_access, and the reject_*_sender_login_mismatch family with
// smtpd_sender_login_maps). Kept apart from the evaluator so the session
// facts they need (tlsCert, saslUsername) are read in one place.
import { splitAddress } from '../../../global/addr/address.js';
import type { PolicyContext } from './context.js';
import { DUNNO, OK, type EvalState, type StepResult } from './types.js';

/** Certificate fingerprint first, then public-key fingerprint, as Postfix looks them up. */
function ccertKeys(s: EvalState): string[] {
  const c = s.facts.tlsCert;
  return c ? [c.fingerprint, c.pubkeyFingerprint] : [];
}

/** permit_tls_clientcerts: a presented certificate whose fingerprint is listed in relay_clientcerts. */
export async function permitTlsClientcerts(ctx: PolicyContext, s: EvalState): Promise<StepResult> {
  const keys = ccertKeys(s);
  if (keys.length === 0) return DUNNO;
  for (const spec of ctx.config.list('relay_clientcerts')) {
    const dict = await ctx.table(spec);
    for (const k of keys) if ((await dict.lookup(k)) !== undefined) return OK;
  }
  return DUNNO;
}

/** permit_tls_all_clientcerts: any certificate that verified against the CA list. */
export function permitTlsAllClientcerts(s: EvalState): StepResult {
  return s.facts.tlsCert?.verified ? OK : DUNNO;
}

/** Keys for smtpd_sender_login_maps: the address, the address without extension, then `@domain`. */
function senderKeys(sender: string, delimiters: string): string[] {
  const { local, domain } = splitAddress(sender);
  const keys = [sender];
  const cut = [...delimiters].map((d) => local.indexOf(d)).filter((i) => i > 0);
  if (cut.length > 0) keys.push(`${local.slice(0, Math.min(...cut))}${domain ? `@${domain}` : ''}`);
  if (domain) keys.push(`@${domain}`);
  return keys.map((k) => k.toLowerCase());
}

async function senderOwners(ctx: PolicyContext, sender: string): Promise<string[] | undefined> {
  const keys = senderKeys(sender, ctx.config.get('recipient_delimiter'));
  for (const spec of ctx.config.list('smtpd_sender_login_maps')) {
    const dict = await ctx.table(spec);
    for (const k of keys) {
      const v = await dict.lookup(k);
      if (v !== undefined) return v.split(/[\s,]+/).filter(Boolean);
    }
  }
  return undefined;
}

export type LoginMismatchMode = 'both' | 'authenticated' | 'unauthenticated' | 'known';

/** The reject_*_sender_login_mismatch restrictions; the null sender is never checked. */
export async function senderLoginMismatch(
  ctx: PolicyContext,
  s: EvalState,
  mode: LoginMismatchMode,
): Promise<StepResult> {
  const sender = s.facts.sender;
  if (sender === undefined || sender === '') return DUNNO;
  const owners = await senderOwners(ctx, sender);
  const user = s.facts.saslUsername;
  // Postfix answers 553 for both, whatever the access_map_reject_code.
  const code = 553;
  if (user !== undefined) {
    if (mode === 'unauthenticated') return DUNNO;
    if (mode === 'known' && owners === undefined) return DUNNO;
    const lower = user.toLowerCase();
    if (owners?.some((o) => o.toLowerCase() === lower)) return DUNNO;
    return ctx.reject(s, code, '5.7.1', `<${sender}>: Sender address rejected: not owned by user ${user}`);
  }
  if (mode === 'authenticated' || owners === undefined) return DUNNO;
  return ctx.reject(s, code, '5.7.1', `<${sender}>: Sender address rejected: not logged in`);
}
