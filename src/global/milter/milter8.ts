// One Sendmail 8 milter as Postfix's milter8 client drives it: a fresh
// socket per SMTP session (libmilter closes it when the client goes away),
// option negotiation, one event at a time with its macros, the per-milter
// state (accept/reject for the connection or the message, SMFIR_SKIP), and
// the default_action when the milter cannot be reached, times out or breaks
// the protocol. Errors are logged with Postfix's warning texts and never
// thrown to the caller: a broken milter costs a reply, never a session.
// Touches: one client socket (inet: or unix:).
import net from 'node:net';
import type { Logger } from '../log/logger.js';
import { macroPairs, MACRO_STAGE_COMMAND, type MacroLookup } from './macros.js';
import {
  commandName,
  DataReader,
  encodePacket,
  MACRO_STAGES,
  MTA_ACTIONS,
  NOSEND_MASK,
  PacketSplitter,
  replyName,
  SMFIC,
  SMFIP,
  SMFIR,
  VERSION_EVENTS,
  type DataPart,
  type MacroStage,
  type MilterCommand,
  type ReplyPacket,
} from './protocol.js';
import { parseReplyText, REJECTED, replyVerdict, TEMPFAILED, type MilterVerdict } from './reply.js';
import type { MilterMacroSettings, MilterSpec } from './settings.js';

type State = 'closed' | 'ready' | 'envelope' | 'accept-con' | 'accept-msg' | 'reject-con' | 'error';

/** Edits a milter may ask for at end of message; the message layer applies them. */
export interface MilterEditor {
  addHeader(name: string, space: string, value: string): void;
  insertHeader(index: number, name: string, space: string, value: string): void;
  changeHeader(index: number, name: string, space: string, value: string): void;
  deleteHeader(index: number, name: string): void;
  changeFrom(sender: string, args: string): void;
  addRecipient(rcpt: string, args: string): void;
  deleteRecipient(rcpt: string): void;
  /** Replacement body bytes, in order; `end()` follows the last chunk. */
  replaceBody(chunk: Buffer): void;
  endBody(): void;
}

class MilterIoError extends Error {}

export class Milter8 {
  private state: State = 'closed';
  /** The persistent answer after an error or a connection-level decision (Postfix's def_reply). */
  private defReply: MilterVerdict | undefined;
  private skipEvent: string | undefined;
  private socket: net.Socket | undefined;
  private packets: ReplyPacket[] = [];
  private waiter: ((p: ReplyPacket | Error) => void) | undefined;
  private ioError: Error | undefined;
  /** Events the filter does not want or replies it will not send (SMFIP_*). */
  private evMask = 0;
  /** Events our (or its) protocol version lacks: never sent. */
  private npMask = 0;
  private symlists: Partial<Record<MacroStage, string[]>> = {};

  constructor(
    readonly spec: MilterSpec,
    private readonly macros: MilterMacroSettings,
    private readonly log: Logger,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The filter asked for rejected recipients too (SMFIP_RCPT_REJ). */
  get wantsRejectedRcpt(): boolean {
    return this.state === 'envelope' && (this.evMask & SMFIP.RCPT_REJ) !== 0;
  }

  // ------------------------------------------------------------ errors

  private closeSocket(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.packets = [];
  }

  /** Communication error: default_action decides the persistent answer. */
  private commError(): MilterVerdict | undefined {
    this.closeSocket();
    const a = this.spec.defaultAction.toLowerCase();
    if (a === 'accept') this.defReply = undefined;
    else if (a === 'reject') this.defReply = replyVerdict('550 5.5.0 Service unavailable');
    else if (a === 'tempfail') this.defReply = TEMPFAILED;
    else if (a === 'quarantine') this.defReply = { kind: 'hold', reason: 'milter default action' };
    else {
      this.log.warning(`milter ${this.name}: unrecognized default action: ${this.spec.defaultAction}`);
      this.defReply = replyVerdict('451 4.3.5 Server configuration problem - try again later');
    }
    this.state = 'error';
    return this.defReply;
  }

  /** Configuration error (ours or the filter's): only accept and quarantine soften it. */
  private confError(): MilterVerdict | undefined {
    this.closeSocket();
    const a = this.spec.defaultAction.toLowerCase();
    this.defReply =
      a === 'accept'
        ? undefined
        : a === 'quarantine'
          ? { kind: 'hold', reason: 'milter default action' }
          : replyVerdict('451 4.3.5 Server configuration problem - try again later');
    this.state = 'error';
    return this.defReply;
  }

  // ------------------------------------------------------------ I/O

  private send(cmd: MilterCommand, parts: readonly DataPart[] = []): void {
    if (!this.socket || this.socket.destroyed) throw new MilterIoError('error writing command: Broken pipe');
    this.socket.write(encodePacket(cmd, parts));
  }

  private readPacket(timeoutMs: number): Promise<ReplyPacket> {
    const ready = this.packets.shift();
    if (ready) return Promise.resolve(ready);
    if (this.ioError) return Promise.reject(this.ioError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new MilterIoError('Connection timed out'));
      }, timeoutMs);
      this.waiter = (p) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (p instanceof Error) reject(p);
        else resolve(p);
      };
    });
  }

  private attach(socket: net.Socket): void {
    const splitter = new PacketSplitter();
    const fail = (e: Error): void => {
      this.ioError = e;
      this.waiter?.(e);
    };
    socket.on('data', (chunk: Buffer) => {
      let got: ReplyPacket[];
      try {
        got = splitter.push(chunk);
      } catch (e) {
        fail(new MilterIoError((e as Error).message));
        socket.destroy();
        return;
      }
      for (const p of got) {
        if (this.waiter) this.waiter(p);
        else this.packets.push(p);
      }
    });
    socket.on('error', (e) => fail(new MilterIoError(e.message)));
    // libmilter's EOF: Postfix's %m shows errno 0 here.
    socket.on('close', () => fail(new MilterIoError('Success')));
  }

  private openSocket(): Promise<net.Socket> {
    const sep = this.name.indexOf(':');
    const transport = sep < 0 ? '' : this.name.slice(0, sep);
    const endpoint = sep < 0 ? '' : this.name.slice(sep + 1);
    let opts: net.NetConnectOpts;
    if (transport === 'unix' || transport === 'local') opts = { path: endpoint };
    else if (transport === 'inet') {
      const m = /^(?:\[([^\]]+)\]|(.*)):(\d+)$/.exec(endpoint);
      const host = m?.[1] ?? m?.[2];
      if (!m || host === undefined) return Promise.reject(new Error(`bad inet endpoint "${endpoint}"`));
      opts = { host: host === '' ? '127.0.0.1' : host, port: Number(m[3]) };
    } else return Promise.reject(new Error('config'));
    return new Promise((resolve, reject) => {
      const s = net.connect(opts);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('Connection timed out'));
      }, this.spec.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new Error(errnoText(e)));
      });
    });
  }

  // ------------------------------------------------------------ negotiation

  /** Connect and negotiate; afterwards the state is `ready` or `error`. */
  private async connect(): Promise<void> {
    this.closeSocket();
    this.ioError = undefined;
    this.defReply = undefined;
    this.skipEvent = undefined;
    this.symlists = {};
    let version = 0;
    let events = 0;
    for (const word of this.spec.protocol.split(/[\s,]+/).filter((w) => w !== '')) {
      const v = /^\d+$/.test(word) ? Number(word) : undefined;
      const mask = v !== undefined ? VERSION_EVENTS.get(v) : word === 'no_header_reply' ? SMFIP.NR_HDR : undefined;
      if (mask === undefined || (v !== undefined && version !== 0)) {
        this.log.warning(`milter ${this.name}: bad protocol information: ${word}`);
        this.confError();
        return;
      }
      if (v !== undefined) version = v;
      events |= mask;
    }
    if (version === 0) {
      this.log.warning(`milter ${this.name}: no protocol version information`);
      this.confError();
      return;
    }
    this.npMask = NOSEND_MASK & ~events;
    const sep = this.name.indexOf(':');
    const transport = sep < 0 ? '' : this.name.slice(0, sep);
    if (sep <= 0 || sep === this.name.length - 1) {
      this.log.warning(`Milter service needs transport:endpoint instead of "${this.name}"`);
      this.confError();
      return;
    }
    if (!['inet', 'unix', 'local'].includes(transport)) {
      this.log.warning(`invalid transport name: ${transport} in Milter service: ${this.name}`);
      this.confError();
      return;
    }
    try {
      this.socket = await this.openSocket();
    } catch (e) {
      this.log.warning(`connect to Milter service ${this.name}: ${(e as Error).message}`);
      this.commError();
      return;
    }
    this.attach(this.socket);
    this.socket.setNoDelay(true);
    try {
      this.send(SMFIC.OPTNEG, [{ u32: version }, { u32: MTA_ACTIONS }, { u32: events }]);
      const p = await this.readPacket(this.spec.commandTimeoutMs);
      if (p.cmd !== SMFIC.OPTNEG) {
        this.log.warning(`milter ${this.name}: unexpected reply "${p.cmd}" in initial handshake`);
        this.commError();
        return;
      }
      const r = new DataReader(p.data);
      const theirVersion = r.u32();
      const rqMask = r.u32();
      this.evMask = r.u32();
      if (theirVersion > version) {
        this.log.warning(
          `milter ${this.name}: protocol version ${theirVersion} conflict with MTA protocol version ${version}`,
        );
        this.commError();
        return;
      }
      if ((rqMask & MTA_ACTIONS) !== rqMask) {
        this.log.warning(
          `milter ${this.name}: request mask 0x${rqMask.toString(16)} conflict with MTA request mask 0x${MTA_ACTIONS.toString(16)}`,
        );
        this.commError();
        return;
      }
      if (theirVersion < version) {
        // An older filter must not see events its version lacks.
        for (const [v, mask] of VERSION_EVENTS) {
          if (v <= theirVersion) {
            this.npMask |= NOSEND_MASK & ~mask;
            break;
          }
        }
      }
      while (r.remaining() > 0) {
        const cls = r.u32();
        const list = r.string();
        const stage = MACRO_STAGES[cls];
        if (stage === undefined) this.log.warning(`milter ${this.name}: ignoring unknown macro type ${cls}`);
        else this.symlists[stage] = list.split(/\s+/).filter((n) => n !== '');
      }
    } catch (e) {
      this.log.warning(`milter ${this.name}: read error in initial handshake: ${(e as Error).message}`);
      this.commError();
      return;
    }
    this.state = 'ready';
  }

  // ------------------------------------------------------------ events

  /**
   * Send one event (with its macros) and read the reply or replies. `noSend`
   * is the SMFIP_NO* flag of the event, `noReply` its SMFIP_NR_* flag.
   */
  private async event(
    cmd: MilterCommand,
    noSend: number,
    noReply: number,
    stage: MacroStage | undefined,
    lookup: MacroLookup | undefined,
    parts: readonly DataPart[],
    timeoutMs: number,
    editor?: MilterEditor,
  ): Promise<MilterVerdict | undefined> {
    if (!this.socket || this.defReply !== undefined) return this.defReply;
    if ((noSend & this.npMask) !== 0) return this.defReply;
    if (this.skipEvent !== undefined) {
      if (cmd === this.skipEvent) return this.defReply;
      this.skipEvent = undefined;
    }
    try {
      if (stage !== undefined && lookup) {
        const names = this.symlists[stage] ?? this.macros.lists[stage];
        const pairs = macroPairs(names, lookup, this.macros);
        if (pairs.length > 0) this.send(SMFIC.MACRO, [Buffer.from(MACRO_STAGE_COMMAND[stage], 'latin1'), ...pairs]);
      }
      if ((noSend & this.evMask) !== 0) return this.defReply;
      this.send(cmd, parts);
      if ((noReply & this.evMask) !== 0) return this.defReply;
      return await this.replies(cmd, timeoutMs, editor);
    } catch (e) {
      if (!(e instanceof MilterIoError)) throw e;
      const what = e.message.startsWith('error writing')
        ? e.message
        : `can't read ${commandName(cmd)} reply packet header: ${e.message}`;
      this.log.warning(`milter ${this.name}: ${what}`);
      return this.commError();
    }
  }

  /** The reply loop: progress and (after end of message) edits until the decision. */
  private async replies(
    cmd: MilterCommand,
    timeoutMs: number,
    editor?: MilterEditor,
  ): Promise<MilterVerdict | undefined> {
    const inConnect = cmd === SMFIC.CONNECT || cmd === SMFIC.HELO;
    let inBody = false;
    let bodyLocked = false;
    // Bounded: a filter that streams edits forever still hits the content timeout per packet.
    for (let n = 0; n < 1_000_000; n++) {
      const p = await this.readPacket(timeoutMs);
      if (inBody && p.cmd !== SMFIR.REPLBODY) {
        editor?.endBody();
        inBody = false;
        bodyLocked = true;
      }
      const r = new DataReader(p.data);
      const empty = p.data.length === 0;
      switch (p.cmd) {
        case SMFIR.PROGRESS:
          if (empty) continue;
          break;
        case SMFIR.CONTINUE:
          if (empty) return this.defReply;
          break;
        case SMFIR.ACCEPT:
          if (!empty) break;
          if (inConnect) {
            this.closeSocket();
            this.state = 'accept-con';
          } else this.state = 'accept-msg';
          return this.defReply;
        case SMFIR.DISCARD:
          if (!empty) break;
          if (inConnect) {
            this.log.warning(`milter ${this.name}: DISCARD action is not allowed for connect or helo`);
            return this.defReply;
          }
          this.state = 'accept-msg';
          return { kind: 'discard' };
        case SMFIR.REJECT:
        case SMFIR.TEMPFAIL:
        case SMFIR.SHUTDOWN: {
          if (!empty) break;
          const v: MilterVerdict =
            p.cmd === SMFIR.REJECT ? REJECTED : p.cmd === SMFIR.TEMPFAIL ? TEMPFAILED : { kind: 'shutdown' };
          if (inConnect || p.cmd === SMFIR.SHUTDOWN) return this.rejectConnection(v);
          return v;
        }
        case SMFIR.REPLYCODE: {
          const text = r.rest().toString('utf8').replace(/\0+$/, '');
          if (!/^[45]\d\d[ -]/.test(text) || (/^\d$/.test(text[4] ?? '') && text[4] !== text[0])) {
            this.log.warning(`milter ${this.name}: malformed reply: ${text}`);
            return this.confError();
          }
          // Sendmail treats the text as a format string: %% means %, a lone % is dropped.
          const v: MilterVerdict = { kind: 'reply', reply: parseReplyText(text.replace(/%(%?)/g, '$1')) };
          return inConnect ? this.rejectConnection(v) : v;
        }
        case SMFIR.QUARANTINE: {
          const reason = r.rest().toString('utf8').replace(/\0+$/, '');
          // Not final in Sendmail either: the conversation goes on, every later answer says hold.
          this.defReply = { kind: 'hold', reason };
          continue;
        }
        case SMFIR.SKIP:
          if (!empty) break;
          this.skipEvent = cmd;
          return this.defReply;
        default:
          if (cmd === SMFIC.BODYEOB && editor && this.edit(p, r, editor, bodyLocked)) {
            if (p.cmd === SMFIR.REPLBODY) inBody = true;
            continue;
          }
          this.log.warning(
            `milter ${this.name}: unexpected filter response ${replyName(p.cmd)} after event ${commandName(cmd)}`,
          );
          return this.commError();
      }
      this.log.warning(`milter ${this.name}: reply ${replyName(p.cmd)} was followed by ${p.data.length} data bytes`);
      return this.commError();
    }
    return this.commError();
  }

  /** A modification request; false when it is not one (or malformed, after logging). */
  private edit(p: ReplyPacket, r: DataReader, editor: MilterEditor, bodyLocked: boolean): boolean {
    const space = (this.evMask & SMFIP.HDR_LEADSPC) !== 0 ? '' : ' ';
    try {
      switch (p.cmd) {
        case SMFIR.CHGHEADER: {
          let index = r.u32();
          const name = r.string();
          const value = r.string();
          r.end();
          if (index === 0) index = 1;
          if (name === '') {
            this.log.warning(`milter ${this.name}: null change header name`);
            return false;
          }
          if (value !== '') editor.changeHeader(index, name, space, value);
          else editor.deleteHeader(index, name);
          return true;
        }
        case SMFIR.ADDHEADER: {
          const name = r.string();
          const value = r.string();
          r.end();
          editor.addHeader(name, space, value);
          return true;
        }
        case SMFIR.INSHEADER: {
          const index = r.u32();
          const name = r.string();
          const value = r.string();
          r.end();
          editor.insertHeader(index, name, space, value);
          return true;
        }
        case SMFIR.CHGFROM:
        case SMFIR.ADDRCPT_PAR: {
          const addr = r.string();
          const args = r.remaining() > 0 ? r.string() : '';
          r.end();
          if (p.cmd === SMFIR.CHGFROM) editor.changeFrom(addr, args);
          else editor.addRecipient(addr, args);
          return true;
        }
        case SMFIR.ADDRCPT:
        case SMFIR.DELRCPT: {
          const addr = r.string();
          r.end();
          if (p.cmd === SMFIR.ADDRCPT) editor.addRecipient(addr, '');
          else editor.deleteRecipient(addr);
          return true;
        }
        case SMFIR.REPLBODY:
          if (bodyLocked) {
            this.log.warning(
              `milter ${this.name}: body replacement requests can't currently be mixed with other requests`,
            );
            return false;
          }
          editor.replaceBody(r.rest());
          return true;
        default:
          return false;
      }
    } catch (e) {
      this.log.warning(`milter ${this.name}: ${(e as Error).message}`);
      return false;
    }
  }

  /** Connect/HELO-stage decisions and shutdown hold for the rest of the session. */
  private rejectConnection(v: MilterVerdict): MilterVerdict {
    this.closeSocket();
    this.state = 'reject-con';
    this.defReply = v;
    return v;
  }

  // ------------------------------------------------------------ the MTA's events

  async connectEvent(
    hostname: string,
    family: '4' | '6' | 'L' | 'U',
    port: number,
    addr: string,
    lookup: MacroLookup,
  ): Promise<MilterVerdict | undefined> {
    await this.connect();
    if (this.state !== 'ready') return this.defReply;
    this.state = 'envelope';
    const parts: DataPart[] =
      family === 'U' ? [hostname, Buffer.from('U')] : [hostname, Buffer.from(family), { u16: port }, addr];
    return this.event(
      SMFIC.CONNECT,
      SMFIP.NOCONNECT,
      SMFIP.NR_CONN,
      'connect',
      lookup,
      parts,
      this.spec.commandTimeoutMs,
    );
  }

  private inEnvelope(allowAcceptMsg: boolean): boolean {
    return this.state === 'envelope' || (allowAcceptMsg && this.state === 'accept-msg');
  }

  helo(name: string, lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(true)) return Promise.resolve(this.defReply);
    return this.event(SMFIC.HELO, SMFIP.NOHELO, SMFIP.NR_HELO, 'helo', lookup, [name], this.spec.commandTimeoutMs);
  }

  mail(argv: readonly string[], lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(false)) return Promise.resolve(this.defReply);
    return this.event(SMFIC.MAIL, SMFIP.NOMAIL, SMFIP.NR_MAIL, 'mail', lookup, argv, this.spec.commandTimeoutMs);
  }

  rcpt(argv: readonly string[], lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(false)) return Promise.resolve(this.defReply);
    return this.event(SMFIC.RCPT, SMFIP.NORCPT, SMFIP.NR_RCPT, 'rcpt', lookup, argv, this.spec.commandTimeoutMs);
  }

  data(lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(false)) return Promise.resolve(this.defReply);
    return this.event(SMFIC.DATA, SMFIP.NODATA, SMFIP.NR_DATA, 'data', lookup, [], this.spec.commandTimeoutMs);
  }

  unknown(command: string, lookup: MacroLookup): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(false)) return Promise.resolve(this.defReply);
    const t = this.spec.commandTimeoutMs;
    return this.event(SMFIC.UNKNOWN, SMFIP.NOUNKNOWN, SMFIP.NR_UNKN, 'unknown', lookup, [command], t);
  }

  /** The answer to commands milters are not told about (VRFY, ETRN): the persistent one. */
  other(): MilterVerdict | undefined {
    return this.defReply;
  }

  /**
   * Headers (the first, our own Received:, is not shown, as Postfix hides
   * it), end of headers, the body in 64 KiB chunks and end of message, with
   * `editor` receiving the modification requests.
   */
  async message(
    headers: readonly { name: string; value: string }[],
    body: Buffer,
    lookups: { eoh: MacroLookup; eom: MacroLookup },
    editor: MilterEditor,
  ): Promise<MilterVerdict | undefined> {
    if (!this.inEnvelope(false)) return this.defReply;
    const t = this.spec.contentTimeoutMs;
    const leadSpace = (this.evMask & SMFIP.HDR_LEADSPC) !== 0;
    for (const h of headers) {
      const value = !leadSpace && h.value.startsWith(' ') ? h.value.slice(1) : h.value;
      const v = await this.event(SMFIC.HEADER, SMFIP.NOHDRS, SMFIP.NR_HDR, 'eoh', lookups.eoh, [h.name, value], t);
      if (v !== undefined || this.state !== 'envelope') return v;
    }
    let v = await this.event(SMFIC.EOH, SMFIP.NOEOH, SMFIP.NR_EOH, 'eoh', lookups.eoh, [], t);
    if (v !== undefined || this.state !== 'envelope') return v;
    for (let off = 0; off < body.length; off += 65535) {
      const chunk = body.subarray(off, Math.min(body.length, off + 65535));
      v = await this.event(SMFIC.BODY, SMFIP.NOBODY, SMFIP.NR_BODY, 'eom', lookups.eom, [chunk], t);
      if (v !== undefined || this.state !== 'envelope') return v;
    }
    return this.event(SMFIC.BODYEOB, 0, 0, 'eom', lookups.eom, [], t, editor);
  }

  /** End of one message's conversation (RSET, a new MAIL, the end of a transaction). */
  abort(): void {
    if (this.state === 'envelope' || this.state === 'accept-msg') {
      try {
        this.send(SMFIC.ABORT);
      } catch {
        this.commError();
        return;
      }
      this.state = 'envelope';
      this.skipEvent = undefined;
      // A quarantine reason belongs to the message that was aborted.
      if (this.defReply?.kind === 'hold') this.defReply = undefined;
    }
  }

  /** The SMTP client went away: QUIT, then close (libmilter would close anyway). */
  quit(): void {
    if (this.state === 'envelope' || this.state === 'accept-msg') {
      try {
        this.send(SMFIC.QUIT);
      } catch {
        // Nothing to tell a milter that is gone.
      }
    }
    this.closeSocket();
    this.state = 'closed';
    this.defReply = undefined;
  }
}

function errnoText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'EHOSTUNREACH':
      return 'No route to host';
    default:
      return e.message;
  }
}
