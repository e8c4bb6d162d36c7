// Postern's deliberate departures from Postfix 3.7's defaults, in one place:
// the name on the greeting, and the hardening Postfix itself adopted after 3.7
// (3.9 ships these). registry.ts applies them over the 3.7 table, so
// `postconf -d` and every daemon see Postern's value; README.md's "Hardened
// defaults" table and the drift test against postconf-d-3.7.txt use this list.

export interface HardenedDefault {
  readonly name: string;
  /** What Postfix 3.7 ships. */
  readonly postfix37: string;
  /** What Postern ships. */
  readonly postern: string;
  readonly why: string;
}

export const HARDENED_DEFAULTS: readonly HardenedDefault[] = [
  {
    name: 'mail_name',
    postfix37: 'Postfix',
    postern: 'Postern',
    why: 'the product name in the SMTP greeting, Received: headers and bounces',
  },
  {
    name: 'smtpd_forbid_bare_newline',
    postfix37: 'no',
    postern: 'normalize',
    why: 'SMTP smuggling defence (CVE-2023-51764); Postfix 3.9 default',
  },
  {
    name: 'smtpd_forbid_unauth_pipelining',
    postfix37: 'no',
    postern: 'yes',
    why: 'disconnect clients that pipeline before being allowed to; Postfix 3.9 default',
  },
];
