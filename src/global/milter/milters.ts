// A list of milters used together (smtpd_milters or non_smtpd_milters), as
// Postfix's milter(3) layer drives them: every event goes to each milter in
// order and the first one with an answer other than "continue" decides; at
// end of message each milter in turn sees the message as the milters before
// it left it. This is the interface smtpd and cleanup call.
import type { Logger } from '../log/logger.js';
import type { Dict } from '../dict/dict-api.js';
import type { MacroLookup } from './macros.js';
import type { MilterMessage } from './message.js';
import { Milter8 } from './milter8.js';
import type { MilterVerdict } from './reply.js';
import type { MilterSettings } from './settings.js';

export interface ConnectInfo {
  /** Verified client name, or `unknown` (sent as `[addr]` then, as Sendmail does). */
  readonly name: string;
  readonly addr: string;
  readonly port: number;
}

export class Milters {
  private readonly list: Milter8[];

  constructor(
    private readonly settings: MilterSettings,
    log: Logger,
  ) {
    this.list = settings.milters.map((spec) => new Milter8(spec, settings.macros, log));
  }

  /** milter_header_checks tables for the headers these milters add or change. */
  headerChecks(): Promise<readonly Dict[]> {
    return this.settings.headerChecks();
  }

  get size(): number {
    return this.list.length;
  }

  private async each(fn: (m: Milter8) => Promise<MilterVerdict | undefined>): Promise<MilterVerdict | undefined> {
    for (const m of this.list) {
      const v = await fn(m);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  connect(client: ConnectInfo, lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    const family = client.addr.includes(':') ? '6' : /^\d+\.\d+\.\d+\.\d+$/.test(client.addr) ? '4' : 'U';
    const name = client.name !== 'unknown' ? client.name : client.addr === 'unknown' ? client.name : `[${client.addr}]`;
    return this.each((m) => m.connectEvent(name, family, client.port, client.addr, lookup));
  }

  helo(name: string, lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    return this.each((m) => m.helo(name, lookup));
  }

  /** `argv`: `<sender>` then the ESMTP parameters, as given. */
  mail(argv: readonly string[], lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    return this.each((m) => m.mail(argv, lookup));
  }

  /**
   * `rejected`: the restrictions already refused this recipient; only
   * milters that asked for rejected recipients (SMFIP_RCPT_REJ) hear of it,
   * and their answer does not change the reply.
   */
  async rcpt(argv: readonly string[], lookup: MacroLookup, rejected = false): Promise<MilterVerdict | undefined> {
    if (!rejected) return this.each((m) => m.rcpt(argv, lookup));
    for (const m of this.list) if (m.wantsRejectedRcpt) await m.rcpt(argv, lookup);
    return undefined;
  }

  data(lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    return this.each((m) => m.data(lookup));
  }

  unknown(command: string, lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    return this.each((m) => m.unknown(command, lookup));
  }

  /** VRFY, ETRN and the like: only a persistent (connection-level) answer applies. */
  other(): MilterVerdict | undefined {
    for (const m of this.list) {
      const v = m.other();
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Headers, body and end of message to each milter; edits land in `msg`. */
  message(msg: MilterMessage, lookups: { eoh: MacroLookup; eom: MacroLookup }): Promise<MilterVerdict | undefined> {
    return this.each((m) => m.message(msg.visible(), msg.body, lookups, msg.editor()));
  }

  abort(): void {
    for (const m of this.list) m.abort();
  }

  quit(): void {
    for (const m of this.list) m.quit();
  }
}
