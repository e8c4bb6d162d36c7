// Where formatted log lines go: an append-only file (maillog_file, Postfix 3.4+'s
// postlogd(8) job), standard error (commands run from a terminal), or syslog
// (syslog-sink.ts). Sinks never throw: losing a log line must not stop mail.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Severity } from './logger.js';

export interface LogRecord {
  readonly when: Date;
  readonly tag: string;
  readonly pid: number;
  readonly severity: Severity;
  readonly text: string;
}

export interface LogSink {
  write(record: LogRecord): void;
}

/** Descriptors that are already open and must not be opened by name (a worker may lack the right). */
const WELL_KNOWN_FDS: Readonly<Record<string, number>> = { '/dev/stdout': 1, '/dev/stderr': 2 };

const openFiles = new Map<string, number>();

/**
 * The descriptor for a maillog_file path, opened once per process in append
 * mode (O_APPEND makes each line one atomic append, so several processes can
 * share the file). A master that starts a less privileged worker opens the file
 * itself and passes the descriptor (see `useInheritedLogFd`).
 */
export function logFileDescriptor(path: string): number {
  const known = WELL_KNOWN_FDS[path] ?? openFiles.get(path);
  if (known !== undefined) return known;
  const fd = openSync(path, 'a', 0o600);
  openFiles.set(path, fd);
  return fd;
}

/** Record a descriptor inherited from the parent for `path`, so the child does not reopen it. */
export function useInheritedLogFd(path: string, fd: number): void {
  openFiles.set(path, fd);
}

// Lines for maillog files wait a few milliseconds and go out as one append
// per descriptor: a busy daemon logs about seven lines per message, and a
// write(2) per line (later: per event-loop turn, still about two per message)
// was a measurable share of its CPU (bench/TRIED.md). Postfix's own lines pass
// through syslogd or postlogd(8), which buffer too. The delay is short enough
// that nobody reading the log sees it; a burst larger than FLUSH_CHARS goes out
// at once. Standard output and error stay unbuffered so their order with other
// output holds. Whatever is pending is written before the process exits.
const FLUSH_DELAY_MS = 10;
const FLUSH_CHARS = 64 * 1024;
const pending = new Map<number, string>();
let pendingChars = 0;
let flushTimer: NodeJS.Timeout | undefined;
let exitHooked = false;

/** Write every pending line now (also called at exit and before descriptors close). */
export function flushLogFiles(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  pendingChars = 0;
  for (const [fd, text] of pending) {
    pending.delete(fd);
    try {
      writeSync(fd, text);
    } catch {
      // A full disk or a closed descriptor must not take the daemon down with it.
    }
  }
}

function appendLine(fd: number, line: string): void {
  const text = pending.get(fd);
  pending.set(fd, text === undefined ? line : text + line);
  pendingChars += line.length;
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', flushLogFiles);
  }
  if (pendingChars >= FLUSH_CHARS) flushLogFiles();
  else if (!flushTimer) {
    flushTimer = setTimeout(flushLogFiles, FLUSH_DELAY_MS);
    // Pending lines must not keep a finished command alive: the exit hook writes them.
    flushTimer.unref();
  }
}

/** Forget cached descriptors (after log rotation, `postfix reload`). */
export function closeLogFiles(): void {
  flushLogFiles();
  for (const fd of openFiles.values()) {
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing to do
    }
  }
  openFiles.clear();
}

export class FileSink implements LogSink {
  constructor(
    private readonly fd: number,
    private readonly host: string,
    private readonly format: (r: LogRecord, host: string) => string,
  ) {}

  write(record: LogRecord): void {
    try {
      const line = this.format(record, this.host);
      if (this.fd <= 2) writeSync(this.fd, line);
      else {
        appendLine(this.fd, line);
        // Warnings and worse are rare and may be the last words before an exit: out at once, in order.
        if (record.severity !== 'info') flushLogFiles();
      }
    } catch {
      // A full disk or closed stdout must not take the daemon down with it.
    }
  }
}
