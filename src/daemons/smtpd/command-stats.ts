// The per-command counts smtpd(8) prints in its disconnect line
// (`disconnect from h[a] ehlo=1 mail=1 rcpt=0/1 ... commands=4/5`, Postfix
// 3.0+): for each verb how many succeeded out of how many were tried, in the
// order Postfix prints them, unrecognised commands as `unknown`. Counted in
// two small arrays: every command of every session passes through here.
import { STATS_ORDER, UNKNOWN_STATS, statsIndex } from './commands/table.js';
import type { SmtpdCommand } from './types.js';

export class CommandStats {
  private readonly ok: number[] = new Array<number>(STATS_ORDER.length).fill(0);
  private readonly total: number[] = new Array<number>(STATS_ORDER.length).fill(0);

  /** One `cmd` (undefined: an unrecognised command) that succeeded or not. */
  count(cmd: SmtpdCommand | undefined, ok: boolean): void {
    const i = cmd === undefined ? UNKNOWN_STATS : statsIndex(cmd);
    this.total[i] = (this.total[i] ?? 0) + 1;
    if (ok) this.ok[i] = (this.ok[i] ?? 0) + 1;
  }

  /** Postfix's `ehlo=1 mail=1 ... commands=5` summary. */
  text(): string {
    const parts: string[] = [];
    let ok = 0;
    let total = 0;
    STATS_ORDER.forEach((name, i) => {
      const t = this.total[i] ?? 0;
      if (t === 0) return;
      const o = this.ok[i] ?? 0;
      ok += o;
      total += t;
      parts.push(o === t ? `${name}=${o}` : `${name}=${o}/${t}`);
    });
    parts.push(ok === total ? `commands=${ok}` : `commands=${ok}/${total}`);
    return parts.join(' ');
  }
}
