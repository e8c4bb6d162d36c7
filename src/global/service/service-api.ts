// How a Postfix daemon runs inside a Postern process. Postfix execs one program
// per master.cf entry; Postern's master starts a *service module* per entry in
// the core worker process (docs/ARCHITECTURE.md, "Services"). A module gets its
// entry, its configuration (main.cf + the entry's `-o` overrides), a logger
// tagged `$syslog_name/<command>`, and for inet entries the listening sockets
// that master bound for it.
import type { Server } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { MasterEntry } from '../mastercf/types.js';
import type { ParamReader } from '../params/types.js';
import type { ServiceDirectory } from './directory.js';

export interface ServiceContext {
  readonly entry: MasterEntry;
  /** main.cf over defaults, with this entry's `-o` overrides on top. */
  readonly config: ParamReader;
  /** Tagged `$syslog_name/<command>` as Postfix does (e.g. `postfix/submission/smtpd`). */
  readonly logger: Logger;
  /**
   * inet entries: the sockets master bound (one per address of inet_interfaces
   * / inet_protocols), already listening. Attach a 'connection' listener; the
   * skeleton holds connections that arrive before start() resolves and hands
   * them over afterwards. Empty for unix/fifo/pass entries.
   */
  readonly listeners: readonly Server[];
  /** In-process APIs other services provide (cleanup, trivial-rewrite, anvil, ...). */
  readonly directory: ServiceDirectory;
}

export interface RunningService {
  /**
   * `postfix reload`: the entry is unchanged but main.cf/-o values may be new.
   * Without this method the skeleton stops the service gracefully and starts it
   * again with the same listeners.
   */
  reload?(config: ParamReader): Promise<void>;
  /**
   * graceful: stop accepting, let sessions in progress finish (the skeleton
   * bounds the wait); not graceful: close everything now. Must not throw.
   */
  stop(graceful: boolean): Promise<void>;
}

export interface ServiceModule {
  /** Throw (or logger.fatal) when the service cannot run; master logs it and throttles. */
  start(ctx: ServiceContext): Promise<RunningService>;
}
