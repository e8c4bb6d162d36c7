// One smtpd(8) SMTP session: connection set-up (peer name, anvil limits,
// greeting), the command loop with Postfix's error, junk, timeout and
// pipelining rules, reply buffering (RFC 2920 flush-before-read) and the
// disconnect statistics. Each verb lives in commands/; the mail transaction
// helpers (policy checks, cleanup hand-off) live in transaction.ts.
// Touches: one client socket. Never runs as root (the listener is inherited).
import type { Duplex } from 'node:stream';
import { isAscii } from 'node:buffer';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import { formatReply, type SmtpReply } from '../../global/smtp/reply.js';
import { ReaderClosedError, SmtpReader, type BareNewlineMode } from '../../util/smtp-reader.js';
import type { Anvil } from '../anvil/anvil.js';
import { ClientList, normalizeAddr } from './client-list.js';
import { lookupPeer, type PeerResolver } from './peer.js';
import type { PolicyEffect, SmtpdPolicy } from './policy-api.js';
import type { SmtpdSettings } from './settings.js';
import { printable, printableText } from './printable.js';
import { parseProxyHeader, PROXY_HEADER_MAX, type Endpoint, type ProxyHeader } from './proxy-protocol.js';
import type { AuthHook, EtrnHook, MailTransaction, SmtpdCommand, StartTlsHook, TlsSessionInfo } from './types.js';
import { COMMAND_TABLE } from './commands/table.js';
import { CommandStats } from './command-stats.js';
import { Milters } from '../../global/milter/milters.js';
import type { MilterSettings } from '../../global/milter/settings.js';
import { milterConnect, milterUnknown } from './milter-hooks.js';
import type { SessionTranscript, TranscriptFactory } from './transcript.js';
import type { IdleClock } from './idle-clock.js';

export interface SessionDeps {
  readonly settings: SmtpdSettings;
  readonly logger: Logger;
  readonly cleanup: CleanupService;
  readonly policy: SmtpdPolicy;
  readonly resolver: PeerResolver;
  readonly anvil: Anvil | undefined;
  readonly lists: {
    readonly bareNewlineExclusions: ClientList;
    readonly eventLimitExceptions: ClientList;
    readonly xclient: ClientList;
    readonly xforward: ClientList;
    readonly saslExceptions: ClientList;
  };
  readonly tls: StartTlsHook | undefined;
  readonly auth: AuthHook | undefined;
  readonly etrn: EtrnHook | undefined;
  readonly now: () => Date;
  /** smtpd_milters (absent when none, or with receive_override_options = no_milters). */
  readonly milters?: MilterSettings;
  /** notify_classes transcripts; absent when no class smtpd reports is enabled. */
  readonly transcripts?: TranscriptFactory | undefined;
  /** smtpd_timeout for every session; absent when the timeout is 0 (none). */
  readonly idleClock?: IdleClock | undefined;
}

export interface ClientState {
  addr: string;
  port: number;
  name: string;
  reverseName: string;
}

/** Bytes of unread client input held before the socket is paused. */
const READ_BUFFER_LIMIT = 256 * 1024;

/** Strict UTF-8 for command lines; stateless without `stream`, so one serves every session. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Without the spaces and tabs around it (most command lines have none: no regexp for those). */
function trimBlanks(t: string): string {
  const last = t.length - 1;
  if (last < 0) return t;
  const a = t.charCodeAt(0);
  const z = t.charCodeAt(last);
  if (a !== 0x20 && a !== 0x09 && z !== 0x20 && z !== 0x09) return t;
  return t.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Commands allowed before STARTTLS when TLS is required (Postfix's PRE_TLS flag). */
const PRE_TLS = new Set(['HELO', 'EHLO', 'STARTTLS', 'NOOP', 'QUIT']);

export class Session {
  readonly settings: SmtpdSettings;
  readonly logger: Logger;
  client: ClientState;
  /** Our end of the connection: the socket's, or the one a PROXY header names. */
  server: Endpoint;
  helo: string | undefined;
  esmtp = false;
  tls = false;
  /** The established TLS session (set by STARTTLS or wrapper mode). */
  tlsInfo: TlsSessionInfo | undefined;
  saslUsername: string | undefined;
  saslMethod: string | undefined;
  /** Where in the dialogue we are, for "lost connection after X" and reject logs. */
  where = 'CONNECT';
  errorCount = 0;
  junkCount = 0;
  tx: MailTransaction | undefined;
  /** Policy actions decided at the client/HELO stage (smtpd_delay_reject = no): they apply to every transaction. */
  sessionEffects: PolicyEffect[] = [];
  /** Actions from the MAIL stage, for the transaction MAIL opens next. */
  pendingEffects: PolicyEffect[] = [];
  /** The last EHLO reply advertised PIPELINING (RFC 2920). */
  pipeliningOffered = false;
  /** The client pipelined where RFC 2920 forbids it (for reject_unauth_pipelining). */
  pipelinedEarly = false;
  /** With smtpd_delay_reject = no: a connect-stage rejection repeated for later commands. */
  connectReject: SmtpReply | undefined;
  /** XFORWARD attributes for the current transaction (reset when it ends). */
  xforward = new Map<string, string>();
  /** XFORWARD named the original client (NAME, ADDR or PORT): logged as `orig_client=`. */
  xforwardClientGiven = false;
  /** XCLIENT/XFORWARD authorisation, decided once from the real peer (not an XCLIENT-supplied one). */
  xclientAllowed = false;
  xforwardAllowed = false;
  /** Bytes of DATA/BDAT content received in the current transaction, for the log. */
  dataBytes: number | undefined;
  readonly reader: SmtpReader;
  /** This session's connections to the smtpd_milters (or smtpd_milter_maps' list for the client), opened at connect. */
  milters: Milters | undefined;
  private stream: Duplex;
  private out: string[] = [];
  private closing = false;
  private readonly stats = new CommandStats();
  private anvilCounted = false;
  private readonly transcript: SessionTranscript | undefined;
  /** Stops the idle clock watching this session. */
  private unwatch: (() => void) | undefined;

  constructor(
    readonly socket: Socket,
    readonly deps: SessionDeps,
    /** Our endpoint when the listener is bound to one address (no getsockname() needed). */
    local?: Endpoint,
  ) {
    this.settings = deps.settings;
    this.logger = deps.logger;
    this.stream = socket;
    this.client = {
      addr: normalizeAddr(socket.remoteAddress ?? '0.0.0.0'),
      port: socket.remotePort ?? 0,
      name: 'unknown',
      reverseName: 'unknown',
    };
    this.server = local ?? { addr: normalizeAddr(socket.localAddress ?? ''), port: socket.localPort ?? 0 };
    this.reader = new SmtpReader(socket, READ_BUFFER_LIMIT, () => this.flush());
    socket.setNoDelay(true);
    this.milters = deps.milters && deps.milters.milters.length > 0 ? new Milters(deps.milters, deps.logger) : undefined;
    this.transcript = deps.transcripts?.open(() => this.namaddr);
  }

  /** `name[addr]` as every smtpd log line spells the client. */
  get namaddr(): string {
    const port = this.settings.clientPortLogging ? `:${this.client.port}` : '';
    return `${this.client.name}[${this.client.addr}]${port}`;
  }

  /** The address as written inside brackets in Received: (`IPv6:` prefix for IPv6). */
  get rfcAddr(): string {
    return isIP(this.client.addr) === 6 ? `IPv6:${this.client.addr}` : this.client.addr;
  }

  /** SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, or the UTF8SMTP forms, as in Received: and logs. */
  protocol(utf8 = false): string {
    if (!this.esmtp) return 'SMTP';
    return `${utf8 ? 'UTF8SMTP' : 'ESMTP'}${this.tls ? 'S' : ''}${this.saslUsername !== undefined ? 'A' : ''}`;
  }

  bareNewlineMode(): BareNewlineMode {
    if (this.settings.bareNewline === 'no') return 'no';
    return this.deps.lists.bareNewlineExclusions.matches(this.client) ? 'no' : this.settings.bareNewline;
  }

  reply(code: number, dsn: string, text: string): void {
    this.sendReply({ code, dsn, text });
  }

  sendReply(r: SmtpReply): void {
    if (r.code >= 400 && r.code !== 421) this.errorCount++;
    const text = formatReply(r);
    this.out.push(text);
    this.transcript?.reply(r, text, this.where);
  }

  /**
   * Write buffered replies. Returns a promise only when the socket must drain
   * first (so a non-reading client cannot grow memory): the usual write costs
   * the command loop no promise.
   */
  flush(): Promise<void> | undefined {
    const out = this.out;
    if (out.length === 0 || this.stream.destroyed) return undefined;
    const text = out.length === 1 ? (out[0] ?? '') : out.join('');
    this.out = [];
    if (this.stream.write(text)) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  /** End the session after the pending replies are written. */
  hangup(): void {
    this.closing = true;
  }

  /** Switch the session to an encrypted stream after STARTTLS. */
  rebind(stream: Duplex): void {
    this.stream = stream;
    this.reader.rebind(stream);
  }

  async sleep(seconds: number): Promise<void> {
    if (seconds <= 0) return;
    await this.flush();
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }

  async serve(): Promise<void> {
    this.armTimeout();
    try {
      if (await this.start()) await this.loop();
    } catch (e) {
      if (e instanceof ReaderClosedError) this.readerClosed(e);
      else this.logger.warning(`${this.namaddr}: ${(e as Error).message}`);
    } finally {
      await this.finish();
    }
  }

  private armTimeout(): void {
    // One clock per server watches every session's byte counts (idle-clock.ts):
    // a socket timeout would be re-armed by Node on every read and write.
    const clock = this.deps.idleClock;
    if (clock) this.unwatch = clock.watch(this);
  }

  /** Bytes received and written so far, for the idle clock. */
  progress(): number {
    return this.reader.received + this.socket.bytesWritten;
  }

  /** smtpd_timeout passed without a byte either way. */
  onIdle(): void {
    // Only an idle client times out; a slow queue commit must not. A client
    // that stopped reading our replies is dropped, or it would hold the session forever.
    if (this.reader.isWaiting()) this.reader.close('timeout');
    else if (this.socket.writableNeedDrain) {
      this.logger.info(`timeout after ${this.where} from ${this.namaddr}`);
      this.socket.destroy();
    }
  }

  /** Peer lookup, connect log, anvil limits and the greeting; false when the session must end. */
  private async start(): Promise<boolean> {
    // Without a usable PROXY header there is no audit trail and no access control: hang up unanswered.
    const proxyOk = this.settings.upstreamProxy === undefined || (await this.readProxyHeader());
    if (this.settings.peernameLookup) {
      const names = await lookupPeer(this.deps.resolver, this.client.addr, this.logger);
      this.client.name = names.name;
      this.client.reverseName = names.reverseName;
    }
    this.logger.info(`connect from ${this.namaddr}`);
    if (!proxyOk) return false;
    this.xclientAllowed = this.deps.lists.xclient.matches(this.client);
    this.xforwardAllowed = this.deps.lists.xforward.matches(this.client);
    if (!this.checkConnectionLimits()) return false;
    if (this.deps.tls?.wrapper?.() && !(await this.wrapperHandshake())) return false;
    await this.checkClientEarly();
    // Milters hear of the client only when the access restrictions let it in (as in Postfix).
    const milterGreeting = this.connectReject ? undefined : await milterConnect(this);
    if (this.reader.pending() > 0) {
      if (this.pipeliningViolation('CONNECT')) return false;
    }
    if (milterGreeting) {
      this.sendReply(milterGreeting);
      if (milterGreeting.code === 421) return false;
      return true;
    }
    this.greet();
    return true;
  }

  /**
   * The 220 banner, or with smtpd_delay_reject = no and a client rejection,
   * that rejection in its place (as Postfix 3.7 answers: the client never
   * sees a 220 and every later command but QUIT gets 503 5.7.0).
   */
  private greet(): void {
    if (this.connectReject) this.sendReply(this.connectReject);
    else this.reply(220, '', this.settings.banner);
  }

  /** With smtpd_delay_reject = no the client restrictions run at connect time. */
  private async checkClientEarly(): Promise<void> {
    this.connectReject = undefined;
    if (this.settings.delayReject) return;
    const v = await this.deps.policy.check('connect', this.facts());
    if (v.action === 'reject') {
      this.logReject(v.reply, {});
      this.connectReject = v.reply;
    }
  }

  /**
   * After XCLIENT: the session starts over as if the proxied client had just
   * connected (its HELO and protocol only if XCLIENT gave them), with a new
   * greeting. Whether XCLIENT stays allowed is decided again for the new identity.
   */
  async restartAsNewClient(helo: string | undefined, esmtp: boolean): Promise<void> {
    await this.abortTransaction();
    this.helo = helo;
    this.esmtp = esmtp;
    // The proxy spoke EHLO for its client; keep its PIPELINING knowledge.
    this.pipeliningOffered = this.pipeliningOffered && esmtp;
    this.sessionEffects = [];
    this.pendingEffects = [];
    this.xclientAllowed = this.deps.lists.xclient.matches(this.client);
    await this.checkClientEarly();
    // The milters meet the new client as a new connection.
    this.milters?.quit();
    const milterGreeting = this.connectReject ? undefined : await milterConnect(this);
    if (milterGreeting) {
      this.sendReply(milterGreeting);
      if (milterGreeting.code === 421) this.hangup();
      return;
    }
    this.greet();
  }

  /**
   * smtpd_upstream_proxy_protocol = haproxy: the client and server endpoints
   * from the proxy's header, read within smtpd_upstream_proxy_timeout. A v2
   * LOCAL header (health check) keeps the socket's own endpoints.
   */
  private async readProxyHeader(): Promise<boolean> {
    const timer = setTimeout(() => this.reader.close('timeout'), this.settings.upstreamProxyTimeoutSec * 1000);
    let header: ProxyHeader;
    try {
      header = await this.reader.readFrame((buf) => {
        const h = parseProxyHeader(buf.subarray(0, PROXY_HEADER_MAX), this.settings.families);
        return h.status === 'more' ? undefined : { take: h.status === 'ok' ? h.length : 0, value: h };
      });
    } catch (e) {
      const timedOut = e instanceof ReaderClosedError && e.reason === 'timeout';
      this.logger.warning(`haproxy read: ${timedOut ? 'timeout error' : 'EOF'}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
    if (header.status === 'error') {
      const seen = printable(this.reader.peek(PROXY_HEADER_MAX), PROXY_HEADER_MAX);
      this.logger.warning(`haproxy read: ${header.reason}: ${seen}`);
      return false;
    }
    if (header.status === 'ok' && header.proxied) {
      this.client.addr = header.client.addr;
      this.client.port = header.client.port;
      this.server = header.server;
    }
    return true;
  }

  /** SMTPS (smtpd_tls_wrappermode): TLS before the greeting; false when the handshake failed. */
  private async wrapperHandshake(): Promise<boolean> {
    const hook = this.deps.tls;
    if (!hook?.available()) {
      this.logger.warning(`${this.namaddr}: TLS is required but not available; closing the connection`);
      this.hangup();
      return false;
    }
    try {
      const up = await hook.upgrade(this.socket, this.namaddr);
      this.rebind(up.stream);
      this.tls = true;
      this.tlsInfo = up.info;
      if (up.refused !== undefined) {
        this.logger.info(`NOQUEUE: abort: TLS from ${this.namaddr}: ${up.refused}`);
        this.reply(421, '4.7.1', `${this.settings.myhostname} Error: ${up.refused}`);
        this.hangup();
        return false;
      }
    } catch (e) {
      this.logger.info(`SSL_accept error from ${this.namaddr}: ${(e as Error).message}`);
      this.stream.destroy();
      return false;
    }
    return true;
  }

  private checkConnectionLimits(): boolean {
    const anvil = this.deps.anvil;
    const s = this.settings;
    // Postfix leaves XCLIENT-authorised hosts (proxies speaking for many clients) out of anvil's counts.
    if (!anvil || this.xclientAllowed || this.deps.lists.eventLimitExceptions.matches(this.client)) return true;
    const r = anvil.connect(s.service, this.client.addr);
    this.anvilCounted = true;
    let what: string | undefined;
    let n = 0;
    if (s.connectionCountLimit > 0 && r.count > s.connectionCountLimit) {
      what = 'Connection concurrency limit exceeded';
      n = r.count;
    } else if (s.connectionRateLimit > 0 && r.rate > s.connectionRateLimit) {
      what = 'Connection rate limit exceeded';
      n = r.rate;
    }
    if (what === undefined) return true;
    this.logger.warning(`${what}: ${n} from ${this.namaddr} for service ${s.service}`);
    this.reply(421, '4.7.0', `${s.myhostname} Error: too many connections from ${this.client.addr}`);
    return false;
  }

  /**
   * RFC 2920 violation: input arrived where the client had to wait for our
   * reply. Logged once; with smtpd_forbid_unauth_pipelining the session ends.
   */
  pipeliningViolation(after: string): boolean {
    if (!this.pipelinedEarly) {
      this.logger.info(
        `improper command pipelining after ${after} from ${this.namaddr}: ${printable(this.reader.peek(100))}`,
      );
    }
    this.pipelinedEarly = true;
    if (!this.settings.forbidUnauthPipelining) return false;
    this.reply(554, '5.5.0', 'Error: SMTP protocol synchronization');
    this.hangup();
    return true;
  }

  private async loop(): Promise<void> {
    const s = this.settings;
    while (!this.closing) {
      if (this.errorCount >= s.hardErrorLimit) {
        this.logger.info(`too many errors after ${this.where} from ${this.namaddr}`);
        this.reply(421, '4.7.0', `${s.myhostname} Error: too many errors`);
        return;
      }
      const line = await this.reader.readCommand(s.lineLengthLimit);
      if (line.ending === 'lf' && this.bareNewlineMode() === 'reject') {
        this.reply(s.bareNewlineRejectCode, '5.5.2', 'Error: bare <LF> received');
        this.hangup();
        return;
      }
      let text: string;
      try {
        // Nearly every command is ASCII, which needs no decoding.
        text = isAscii(line.bytes) ? line.bytes.toString('latin1') : UTF8.decode(line.bytes);
      } catch {
        this.stats.count(undefined, false);
        this.reply(500, '5.5.2', 'Error: bad UTF-8 syntax');
        continue;
      }
      const errorsBefore = this.errorCount;
      this.transcript?.command(text);
      await this.dispatch(trimBlanks(text));
      if (this.errorCount > errorsBefore && this.errorCount >= s.softErrorLimit) await this.sleep(s.errorSleepSec);
    }
  }

  private async dispatch(text: string): Promise<void> {
    let sp = text.indexOf(' ');
    const tab = text.indexOf('\t');
    if (tab >= 0 && (sp < 0 || tab < sp)) sp = tab;
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const args = sp < 0 ? '' : trimBlanks(text.slice(sp + 1));
    if (verb === '') {
      this.reply(500, '5.5.2', 'Error: bad syntax');
      return;
    }
    const cmd: SmtpdCommand | undefined = COMMAND_TABLE.get(verb);
    if (!cmd) {
      this.where = 'UNKNOWN';
      this.stats.count(undefined, false);
      if (this.isForbidden(verb)) {
        this.logger.warning(`non-SMTP command from ${this.namaddr}: ${printable(Buffer.from(text), 100)}`);
        // Postfix 3.7's words and code (later Postfix versions answer 521 5.7.0).
        this.reply(221, '2.7.0', 'Error: I can break rules, too. Goodbye.');
        this.hangup();
        return;
      }
    }
    if (this.connectReject && cmd?.name !== 'QUIT') {
      // Postfix answers a rejected client this way whatever it sends, and
      // leaves `where` at CONNECT (the "too many errors after" log says so).
      this.reply(503, '5.7.0', `Error: access denied for ${this.namaddr}`);
      if (cmd) this.stats.count(cmd, false);
      return;
    }
    if (!cmd) {
      const milterAnswer = await milterUnknown(this, verb);
      if (milterAnswer) {
        this.sendReply(milterAnswer);
        if (milterAnswer.code === 421) this.hangup();
        return;
      }
      // 500 as Postfix 3.7 answers (checked against Debian's smtpd; 3.9+ says 502).
      this.reply(500, '5.5.2', 'Error: command not recognized');
      return;
    }
    this.where = cmd.name;
    // Without PIPELINING advertised (HELO, or the keyword discarded) the client must wait for
    // every reply (RFC 5321 lock-step); BDAT's own chunk follows it and is not a command.
    const lockstep = !this.pipeliningOffered && cmd.name !== 'BDAT' && cmd.name !== 'QUIT';
    if ((cmd.last || lockstep) && this.reader.pending() > 0 && this.pipeliningViolation(cmd.name)) {
      this.stats.count(cmd, false);
      return;
    }
    if (!this.tls && !PRE_TLS.has(cmd.name) && this.deps.tls?.required?.()) {
      // TLS_README: with smtpd_tls_security_level = encrypt nothing but the greeting commands work in plaintext.
      this.reply(530, '5.7.0', 'Must issue a STARTTLS command first');
      this.stats.count(cmd, false);
      return;
    }
    if (cmd.junk && ++this.junkCount > this.settings.junkCommandLimit) this.errorCount++;
    const ok = await cmd.run(this, args);
    this.stats.count(cmd, ok);
  }

  private isForbidden(verb: string): boolean {
    const s = this.settings;
    // A message header sent as a command (`Subject: x`, `X-Foo:bar`) means a client that
    // lost sync or a cross-protocol attack: Postfix hangs up whatever smtpd_forbidden_commands says.
    if (/^[\x21-\x39\x3b-\x7e]+:/.test(verb)) return true;
    return s.forbiddenCommands.includes(verb) || s.forbiddenPatterns.some((re) => re.test(verb));
  }

  private readerClosed(e: ReaderClosedError): void {
    const bytes = this.dataBytes !== undefined ? ` (${this.dataBytes} bytes)` : '';
    if (e.reason === 'timeout') {
      this.logger.info(`timeout after ${this.where}${bytes} from ${this.namaddr}`);
      this.reply(421, '4.4.2', `${this.settings.myhostname} Error: timeout exceeded`);
    } else {
      this.logger.info(`lost connection after ${this.where}${bytes} from ${this.namaddr}`);
    }
  }

  private async finish(): Promise<void> {
    await this.abortTransaction();
    try {
      await this.flush();
    } catch {
      // The client is gone; nothing left to tell it.
    }
    this.milters?.quit();
    if (this.anvilCounted) this.deps.anvil?.disconnect(this.settings.service, this.client.addr);
    this.logger.info(`disconnect from ${this.namaddr} ${this.stats.text()}`);
    void this.transcript?.end();
    this.unwatch?.();
    // Like Postfix's smtpd, close our end once the last reply is in the kernel
    // (nothing left in Node's write buffer) and the client sent nothing more:
    // the client still gets every byte and a FIN, and a client that resets the
    // connection after 221 (smtp-source does) is never read, so no error is
    // built for it. TLS keeps the orderly end() below (close_notify first).
    const s = this.socket;
    if (this.stream === s && !s.destroyed && s.writableLength === 0 && this.reader.pending() === 0) {
      s.destroy();
      return;
    }
    this.stream.end();
    // A client that does not read its replies must not keep the socket open.
    setTimeout(() => this.stream.destroy(), 5000).unref();
  }

  async abortTransaction(): Promise<void> {
    const tx = this.tx;
    this.tx = undefined;
    this.dataBytes = undefined;
    this.forgetXforward();
    // The milters forget the message too (Postfix sends SMFIC_ABORT whenever a transaction ends).
    if (tx) this.milters?.abort();
    if (tx?.cleanup) {
      try {
        await tx.cleanup.abort();
      } catch (e) {
        this.logger.warning(`${tx.cleanup.queueId}: abort: ${(e as Error).message}`);
      }
    }
  }

  /** XFORWARD attributes describe one transaction only. */
  forgetXforward(): void {
    this.xforward.clear();
    this.xforwardClientGiven = false;
  }

  /** The queue ID for log lines: the open cleanup transaction's, else NOQUEUE. */
  get queueId(): string {
    return this.tx?.cleanup?.queueId ?? 'NOQUEUE';
  }

  /** `NOQUEUE: reject: RCPT from name[addr]: 554 5.7.1 ...; from=<s> to=<r> proto=ESMTP helo=<h>` */
  logReject(r: SmtpReply, env: { from?: string; to?: string }): void {
    const parts: string[] = [];
    if (env.from !== undefined) parts.push(`from=<${printableText(env.from)}>`);
    if (env.to !== undefined) parts.push(`to=<${printableText(env.to)}>`);
    parts.push(`proto=${this.protocol(this.tx?.smtputf8 ?? false)}`);
    if (this.helo !== undefined) parts.push(`helo=<${this.helo}>`);
    const dsn = r.dsn ? `${r.dsn} ` : '';
    this.logger.info(
      `${this.queueId}: reject: ${this.where} from ${this.namaddr}: ${r.code} ${dsn}${r.text}; ${parts.join(' ')}`,
    );
  }

  facts(extra: { sender?: string; recipient?: string; etrnDomain?: string; size?: number; saslSender?: string } = {}): {
    clientAddr: string;
    clientName: string;
    reverseClientName: string;
    clientPort: number;
    serverAddr: string;
    serverPort: number;
    helo?: string;
    esmtp: boolean;
    saslUsername?: string;
    saslMethod?: string;
    saslSender?: string;
    tls: boolean;
    tlsCert?: TlsSessionInfo['peer'];
    tlsSession?: { protocol: string; cipher: string; bits: number };
    pipelinedEarly: boolean;
    sender?: string;
    recipient?: string;
    recipientCount: number;
    etrnDomain?: string;
    size?: number;
    queueId?: string;
  } {
    // Built by assignment, not spreads: this runs at every restriction stage of every message.
    const f: ReturnType<Session['facts']> = {
      clientAddr: this.client.addr,
      clientName: this.client.name,
      reverseClientName: this.client.reverseName,
      clientPort: this.client.port,
      serverAddr: this.server.addr,
      serverPort: this.server.port,
      esmtp: this.esmtp,
      tls: this.tls,
      pipelinedEarly: this.pipelinedEarly,
      recipientCount: this.tx?.recipients.length ?? 0,
    };
    if (this.helo !== undefined) f.helo = this.helo;
    if (this.saslUsername !== undefined) f.saslUsername = this.saslUsername;
    if (this.saslMethod !== undefined) f.saslMethod = this.saslMethod;
    if (this.tx?.saslSender !== undefined) f.saslSender = this.tx.saslSender;
    if (this.tlsInfo?.peer) f.tlsCert = this.tlsInfo.peer;
    if (this.tlsInfo) {
      f.tlsSession = { protocol: this.tlsInfo.protocol, cipher: this.tlsInfo.cipher, bits: this.tlsInfo.bits };
    }
    if (this.tx?.cleanup) f.queueId = this.tx.cleanup.queueId;
    return Object.assign(f, extra);
  }

  get cleanup(): CleanupService {
    return this.deps.cleanup;
  }
}
