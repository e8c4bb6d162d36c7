// The "rewrite" half of trivial-rewrite(8): canonicalise an address to
// `user@fully.qualified.domain` as ADDRESS_REWRITING_README describes —
// drop source routes, swap `site!user`, apply the `user%domain` hack, append
// `@$myorigin` and `.$mydomain`. Pure string work; no lookups.
import type { ParamReader } from '../../global/params/types.js';
import { isAddressLiteral, joinAddress, splitAddress } from './address.js';

/**
 * `local` is what cleanup uses for envelope and header addresses of local
 * origin; `remote` applies to header addresses of remote clients, where
 * Postfix only appends `$remote_header_rewrite_domain` (or nothing).
 */
export type RewriteContext = 'local' | 'remote';

export interface RewriteSettings {
  readonly appendAtMyorigin: boolean;
  readonly appendDotMydomain: boolean;
  readonly swapBangpath: boolean;
  readonly percentHack: boolean;
  readonly myorigin: string;
  readonly mydomain: string;
  readonly remoteHeaderRewriteDomain: string;
}

export function rewriteSettings(config: ParamReader): RewriteSettings {
  return {
    appendAtMyorigin: config.bool('append_at_myorigin'),
    appendDotMydomain: config.bool('append_dot_mydomain'),
    swapBangpath: config.bool('swap_bangpath'),
    percentHack: config.bool('allow_percent_hack'),
    myorigin: config.get('myorigin'),
    mydomain: config.get('mydomain'),
    remoteHeaderRewriteDomain: config.get('remote_header_rewrite_domain'),
  };
}

/** `@a,@b:user@site` → `user@site` (RFC 5321 4.1.2 source routes are obsolete). */
export function stripSourceRoute(addr: string): string {
  if (!addr.startsWith('@')) return addr;
  const colon = addr.indexOf(':');
  return colon < 0 ? addr : addr.slice(colon + 1);
}

export function rewriteAddress(addr: string, s: RewriteSettings, context: RewriteContext = 'local'): string {
  // The null sender stays null: it means "no bounces", not "MAILER-DAEMON".
  if (addr === '') return addr;
  let cur = stripSourceRoute(addr);
  let { local, domain } = splitAddress(cur);

  if (domain === undefined && s.swapBangpath && local.includes('!')) {
    // `site!user` → `user@site`; only the first hop moves, the rest stays a bang path.
    const bang = local.indexOf('!');
    const site = local.slice(0, bang);
    const rest = local.slice(bang + 1);
    if (site && rest) ({ local, domain } = { local: rest, domain: site });
  }
  if (domain === undefined && s.percentHack && local.includes('%')) {
    const pct = local.lastIndexOf('%');
    const site = local.slice(pct + 1);
    if (pct > 0 && site) ({ local, domain } = { local: local.slice(0, pct), domain: site });
  }

  if (context === 'remote') {
    if (domain === undefined && s.remoteHeaderRewriteDomain) domain = s.remoteHeaderRewriteDomain;
    return joinAddress(local, domain);
  }

  if (domain === undefined && s.appendAtMyorigin && s.myorigin) domain = s.myorigin;
  if (domain !== undefined && s.appendDotMydomain && s.mydomain && !domain.includes('.') && domain !== '') {
    if (!isAddressLiteral(domain)) domain = `${domain}.${s.mydomain}`;
  }
  cur = joinAddress(local, domain);
  return cur;
}
