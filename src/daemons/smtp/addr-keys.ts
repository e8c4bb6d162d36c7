// The lookup keys Postfix tries for an email address in a table (its
// mail_addr_find(): generic(5), and smtp_sasl_password_maps keyed by sender):
// `user+ext@domain`, `user@domain`, then the bare local part for this
// machine's own domains ($myorigin, $mydestination, interface literals),
// then `@domain`. Shared by generic.ts and sasl.ts.
import type { ParamReader } from '../../global/params/types.js';
import { splitAddress, stripExtension } from '../trivial-rewrite/address.js';
import { createRewriter, type Rewriter } from '../trivial-rewrite/trivial-rewrite.js';
import type { OpenDict } from './tls-policy.js';

export interface AddressKey {
  readonly key: string;
  /** The extension this key left out (`+ext`), or '' when the key has the whole local part. */
  readonly ext: string;
}

/** Whether a domain is one of ours, for the bare `user` key. */
export class LocalDomains {
  private rewriter: Rewriter | undefined;
  private readonly myorigin: string;

  constructor(
    private readonly config: ParamReader,
    private readonly openDict: OpenDict,
  ) {
    this.myorigin = config.get('myorigin').toLowerCase();
  }

  async has(domain: string): Promise<boolean> {
    if (domain === this.myorigin) return true;
    this.rewriter ??= createRewriter({ config: this.config, openDict: this.openDict });
    return this.rewriter.isLocalDomain(domain);
  }
}

/** Keys in the order Postfix tries them (lower case). */
export async function addressKeys(address: string, delimiters: string, local: LocalDomains): Promise<AddressKey[]> {
  const { local: user, domain } = splitAddress(address.toLowerCase());
  const bare = stripExtension(user, delimiters);
  const ext = bare !== undefined ? user.slice(bare.length) : '';
  const keys: AddressKey[] = [];
  if (domain !== undefined) {
    keys.push({ key: `${user}@${domain}`, ext: '' });
    if (bare !== undefined) keys.push({ key: `${bare}@${domain}`, ext });
  }
  if (domain === undefined || (await local.has(domain))) {
    keys.push({ key: user, ext: '' });
    if (bare !== undefined) keys.push({ key: bare, ext });
  }
  if (domain !== undefined) keys.push({ key: `@${domain}`, ext: '' });
  return keys;
}
