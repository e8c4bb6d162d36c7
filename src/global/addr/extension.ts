// Address extensions (`user+foo@domain`) as `recipient_delimiter` defines them
// (postconf(5)): any one of the delimiter characters starts the extension, and
// with `owner_request_special = yes` the `owner-` and `-request` forms of
// mailing-list addresses are never split on `-`.

export interface ExtensionOptions {
  /** The value of `recipient_delimiter`: each character is a delimiter; '' disables extensions. */
  readonly delimiters: string;
  /** `owner_request_special` (default yes). */
  readonly ownerRequestSpecial?: boolean;
}

export interface SplitExtension {
  /** The local part without the extension. */
  readonly base: string;
  /** The delimiter character that started the extension. */
  readonly delimiter: string;
  /** The text after the delimiter. */
  readonly extension: string;
}

/** Split a dequoted local part at its first delimiter; undefined when it has no extension. */
export function splitExtension(local: string, opts: ExtensionOptions): SplitExtension | undefined {
  if (opts.delimiters === '') return undefined;
  if ((opts.ownerRequestSpecial ?? true) && opts.delimiters.includes('-')) {
    const lower = local.toLowerCase();
    if (lower.startsWith('owner-') || lower.endsWith('-request')) return undefined;
  }
  for (let i = 0; i < local.length; i++) {
    const ch = local[i] ?? '';
    // A leading delimiter would leave an empty user: not an extension.
    if (i > 0 && opts.delimiters.includes(ch)) {
      return { base: local.slice(0, i), delimiter: ch, extension: local.slice(i + 1) };
    }
  }
  return undefined;
}

/** `user+foo@domain` → `user@domain`; undefined when there is no extension. */
export function stripAddressExtension(address: string, opts: ExtensionOptions): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  const split = splitExtension(local, opts);
  if (!split) return undefined;
  return at < 0 ? split.base : split.base + address.slice(at);
}
