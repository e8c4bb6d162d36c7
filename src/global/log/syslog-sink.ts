// Logging to the local syslog daemon over the /dev/log datagram socket, as
// syslog(3) does for Postfix. Node has no AF_UNIX datagram sockets, so the
// optional native `unix-dgram` package provides them (docs/DEPENDENCIES.md).
// Without it, or without /dev/log (containers), lines are dropped quietly:
// maillog_file is the way to log there, as with Postfix 3.4+.
import { createRequire } from 'node:module';
import { formatSyslogPacket } from './format.js';
import type { LogRecord, LogSink } from './sinks.js';

/** The part of unix-dgram's socket that we use. */
interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(event: 'error' | 'congestion', listener: (...args: unknown[]) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): DgramSocket;
}

let module: UnixDgramModule | null | undefined;

function loadUnixDgram(): UnixDgramModule | null {
  if (module === undefined) {
    try {
      module = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
    } catch {
      module = null;
    }
  }
  return module;
}

/** Whether syslog output is possible in this installation. */
export function syslogAvailable(): boolean {
  return loadUnixDgram() !== null;
}

/** How long an idle socket stays open; it holds the event loop, so it is never left open for good. */
const IDLE_CLOSE_MS = 20;

export class SyslogSink implements LogSink {
  private socket: DgramSocket | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly facility: number,
    private readonly path = '/dev/log',
  ) {}

  private open(): DgramSocket | null {
    if (this.socket) return this.socket;
    const mod = loadUnixDgram();
    if (!mod) return null;
    try {
      const s = mod.createSocket('unix_dgram');
      // ENOENT (no syslog daemon), ECONNREFUSED, EAGAIN: drop the line, keep going.
      s.on('error', () => undefined);
      s.on('congestion', () => undefined);
      this.socket = s;
    } catch {
      return null;
    }
    // unix-dgram's socket keeps the event loop alive and cannot be unref'd: close
    // it shortly after a burst of lines so that commands can exit.
    this.closeTimer = setTimeout(() => this.close(), IDLE_CLOSE_MS);
    this.closeTimer.unref();
    return this.socket;
  }

  write(record: LogRecord): void {
    const s = this.open();
    if (!s) return;
    const packet = Buffer.from(
      formatSyslogPacket(record.when, this.facility, record.tag, record.pid, record.severity, record.text),
    );
    try {
      s.send(packet, 0, packet.length, this.path);
    } catch {
      // same policy as the error event: never let logging stop mail
    }
  }

  close(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
    this.socket = null;
  }
}
