// Sendmail macros sent to milters before each event (MILTER_README "Sendmail
// macro emulation"): the names come from the milter_*_macros lists (or the
// list a milter asked for with SMFIR_SETSYMLIST); values from the session
// through a lookup, then milter_macro_defaults. A macro without a value is
// not sent, as Postfix does.
import type { MacroStage } from './protocol.js';
import { macroKey, type MilterMacroSettings } from './settings.js';

/** Value of one macro (name without braces: `i`, `daemon_name`, `rcpt_addr`), or undefined. */
export type MacroLookup = (name: string) => string | undefined;

/** Flat name, value, name, value... list, as SMFIC_MACRO carries it after its stage byte. */
export function macroPairs(names: readonly string[], lookup: MacroLookup, settings: MilterMacroSettings): string[] {
  const out: string[] = [];
  for (const name of names) {
    const key = macroKey(name);
    const value = lookup(key) ?? settings.defaults.get(key);
    if (value === undefined) continue;
    // libmilter looks multi-letter names up with their braces.
    out.push(key.length > 1 && !name.startsWith('{') ? `{${key}}` : name, value);
  }
  return out;
}

/** The SMFIC_MACRO stage byte for each event that carries macros. */
export const MACRO_STAGE_COMMAND: Record<MacroStage, string> = {
  connect: 'C',
  helo: 'H',
  mail: 'M',
  rcpt: 'R',
  data: 'T',
  eoh: 'N',
  eom: 'E',
  unknown: 'U',
};

/** What the session knows that macros may expose (undefined where Postfix would not send the macro). */
export interface SessionMacroFacts {
  readonly queueId?: string;
  readonly myhostname: string;
  readonly daemonName: string;
  readonly v: string;
  readonly clientName?: string;
  readonly clientAddr?: string;
  readonly clientPort?: number;
  readonly clientPtr?: string;
  readonly daemonAddr?: string;
  readonly daemonPort?: number;
  readonly helo?: string;
  readonly authType?: string;
  readonly authAuthen?: string;
  readonly authAuthor?: string;
  readonly tlsVersion?: string;
  readonly cipher?: string;
  readonly cipherBits?: number;
  readonly certSubject?: string;
  readonly certIssuer?: string;
  readonly sender?: string;
  readonly recipient?: string;
  /** `smtp` for SMTP mail, `local` for sendmail/pickup. */
  readonly mailer: string;
}

function hostOf(addr: string | undefined): string | undefined {
  if (addr === undefined || addr === '') return undefined;
  const at = addr.lastIndexOf('@');
  return at < 0 ? undefined : addr.slice(at + 1);
}

/** The lookup Postfix's smtpd/cleanup macro evaluation gives for these facts. */
export function sessionMacros(f: SessionMacroFacts): MacroLookup {
  return (name) => {
    switch (name) {
      case 'i':
        return f.queueId;
      case 'j':
        return f.myhostname;
      case '_': {
        // Sendmail's form: the reverse name, the address, and a warning when the names disagree.
        if (f.clientAddr === undefined) return undefined;
        const ptr = f.clientPtr ?? f.clientName ?? 'unknown';
        const forged = f.clientName !== undefined && f.clientName.toLowerCase() !== ptr.toLowerCase();
        return `${ptr} [${f.clientAddr}]${forged ? ' (may be forged)' : ''}`;
      }
      case 'daemon_name':
        return f.daemonName;
      case 'daemon_addr':
        return f.daemonAddr;
      case 'daemon_port':
        return f.daemonPort !== undefined ? String(f.daemonPort) : undefined;
      case 'v':
        return f.v;
      case 'client_addr':
        return f.clientAddr;
      case 'client_name':
        return f.clientName;
      case 'client_port':
        return f.clientPort !== undefined ? String(f.clientPort) : undefined;
      case 'client_ptr':
        return f.clientPtr;
      case 'client_resolve':
        return f.clientName === undefined || f.clientName === 'unknown' ? 'FAIL' : 'OK';
      case 's':
        return f.helo;
      case 'auth_type':
        return f.authType;
      case 'auth_authen':
        return f.authAuthen;
      case 'auth_author':
        return f.authAuthor;
      case 'tls_version':
        return f.tlsVersion;
      case 'cipher':
        return f.cipher;
      case 'cipher_bits':
        return f.cipherBits !== undefined ? String(f.cipherBits) : undefined;
      case 'cert_subject':
        return f.certSubject;
      case 'cert_issuer':
        return f.certIssuer;
      case 'mail_addr':
        return f.sender;
      case 'mail_host':
        return f.sender !== undefined ? hostOf(f.sender) : undefined;
      case 'mail_mailer':
        return f.sender !== undefined ? f.mailer : undefined;
      case 'rcpt_addr':
        return f.recipient;
      case 'rcpt_host':
        return hostOf(f.recipient);
      case 'rcpt_mailer':
        return f.recipient !== undefined ? f.mailer : undefined;
      default:
        return undefined;
    }
  };
}
