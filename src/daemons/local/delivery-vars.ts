// local(8)'s per-recipient `$name` expansion for forward_path, luser_relay
// and mailbox_command_maps results: $user, $home, $shell, $local,
// $extension, $recipient, $domain, $mailbox, $recipient_delimiter, with the
// `${name?text}` (when set) and `${name:text}` (when empty) forms. Values are
// passed through forward_expansion_filter: other characters become `_`.

export type DeliveryVars = Readonly<Record<string, string>>;

function filtered(value: string, allowed: string | undefined): string {
  if (allowed === undefined || allowed === '') return value;
  let out = '';
  for (const ch of value) out += allowed.includes(ch) ? ch : '_';
  return out;
}

/** Expand `$name`, `${name}`, `${name?text}`, `${name:text}`; unknown names expand to ''. */
export function expandDeliveryVars(template: string, vars: DeliveryVars, allowed?: string): string {
  const re = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:([?:])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\$))/g;
  return template.replace(re, (_m, braced?: string, op?: string, text?: string, bare?: string, dollar?: string) => {
    if (dollar) return '$';
    const name = (braced ?? bare ?? '').toLowerCase();
    const raw = vars[name] ?? '';
    if (op === '?') return raw !== '' ? expandDeliveryVars(text ?? '', vars, allowed) : '';
    if (op === ':') return raw === '' ? expandDeliveryVars(text ?? '', vars, allowed) : '';
    return filtered(raw, allowed);
  });
}
