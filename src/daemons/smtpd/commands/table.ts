// smtpd's command table: every verb the server knows, typed, one entry per
// file in this folder. Postfix has no HELP command, so HELP is answered as
// an unknown command (502), exactly as Postfix answers it.
import type { SmtpdCommand } from '../types.js';
import { AUTH } from './auth.js';
import { BDAT } from './bdat.js';
import { DATA } from './data.js';
import { ETRN } from './etrn.js';
import { EHLO, HELO } from './helo.js';
import { MAIL } from './mail.js';
import { RCPT } from './rcpt.js';
import { NOOP, QUIT, RSET } from './simple.js';
import { STARTTLS } from './starttls.js';
import { VRFY } from './vrfy.js';
import { XCLIENT, XFORWARD } from './xclient.js';

const COMMANDS: readonly SmtpdCommand[] = [
  HELO,
  EHLO,
  XCLIENT,
  XFORWARD,
  STARTTLS,
  AUTH,
  MAIL,
  RCPT,
  DATA,
  BDAT,
  RSET,
  NOOP,
  VRFY,
  ETRN,
  QUIT,
];

export const COMMAND_TABLE: ReadonlyMap<string, SmtpdCommand> = new Map(COMMANDS.map((c) => [c.name, c]));

/** Order of the per-command counts in the disconnect log line, as Postfix prints them. */
export const STATS_ORDER: readonly string[] = [...COMMANDS.map((c) => c.name.toLowerCase()), 'unknown'];

/** Where unrecognised commands are counted in STATS_ORDER. */
export const UNKNOWN_STATS = COMMANDS.length;

const STATS_INDEX: ReadonlyMap<SmtpdCommand, number> = new Map(COMMANDS.map((c, i) => [c, i]));

/** A command's place in STATS_ORDER (a session counts every command it runs). */
export function statsIndex(cmd: SmtpdCommand): number {
  return STATS_INDEX.get(cmd) ?? UNKNOWN_STATS;
}
