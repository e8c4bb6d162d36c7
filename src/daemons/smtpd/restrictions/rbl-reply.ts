// The reply of reject_rbl_* restrictions (postconf(5) default_rbl_reply,
// rbl_reply_maps): a template with $rbl_code, $rbl_class, $rbl_what,
// $rbl_domain, $rbl_reason and the client/sender/recipient names, in the
// `$name`, `${name}`, `${name?text}` and `${name:text}` forms.
import type { ParamReader } from '../../../global/params/types.js';
import { splitAddress } from '../../../global/addr/address.js';
import type { SessionFacts } from '../policy-api.js';

export const DEFAULT_RBL_REPLY =
  '$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}';

/**
 * The template text: `rbl_reply_maps` supplies one per zone; otherwise
 * default_rbl_reply unexpanded (its `$rbl_*` names are not parameters, so the
 * generic expansion must not touch them; a reader that cannot give the raw
 * text falls back to the built-in default).
 */
export function rblTemplate(config: ParamReader): string {
  const withRaw = config as ParamReader & { raw?: (name: string) => string | undefined };
  if (typeof withRaw.raw === 'function') return withRaw.raw('default_rbl_reply') ?? DEFAULT_RBL_REPLY;
  return DEFAULT_RBL_REPLY;
}

export interface RblVars {
  readonly code: number;
  readonly cls: string;
  readonly what: string;
  readonly domain: string;
  readonly reason: string | undefined;
}

export function rblVariables(v: RblVars, f: SessionFacts): Map<string, string> {
  const sender = f.sender ?? '';
  const rcpt = f.recipient ?? '';
  const s = splitAddress(sender);
  const r = splitAddress(rcpt);
  return new Map([
    ['rbl_code', String(v.code)],
    ['rbl_class', v.cls],
    ['rbl_what', v.what],
    ['rbl_domain', v.domain],
    ['rbl_reason', v.reason ?? ''],
    ['rbl_txt', v.reason ?? ''],
    ['client_address', f.clientAddr],
    ['client_name', f.clientName],
    ['reverse_client_name', f.reverseClientName],
    ['helo_name', f.helo ?? ''],
    ['sender', sender],
    ['sender_name', s.local],
    ['sender_domain', s.domain],
    ['recipient', rcpt],
    ['recipient_name', r.local],
    ['recipient_domain', r.domain],
  ]);
}

/** Expand a template; unknown names become empty, as in Postfix. Bounded by the template length. */
export function expandTemplate(template: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < template.length;) {
    const ch = template[i];
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const rest = template.slice(i + 1);
    const plain = /^[A-Za-z0-9_]+/.exec(rest);
    if (plain) {
      out += vars.get(plain[0]) ?? '';
      i += 1 + plain[0].length;
      continue;
    }
    if (rest.startsWith('{')) {
      const close = matchingBrace(rest);
      if (close > 0) {
        const inner = rest.slice(1, close);
        const m = /^([A-Za-z0-9_]+)(?:([?:])(.*))?$/s.exec(inner);
        if (m) {
          const val = vars.get(m[1] ?? '') ?? '';
          if (m[2] === '?') out += val !== '' ? expandTemplate(m[3] ?? '', vars) : '';
          else if (m[2] === ':') out += val === '' ? expandTemplate(m[3] ?? '', vars) : '';
          else out += val;
        }
        i += 2 + close;
        continue;
      }
    }
    out += '$';
    i++;
  }
  return out;
}

function matchingBrace(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}
