// smtpd(8)'s entry point for the service skeleton: `createSmtpd(deps)`
// reads the service's parameters once and returns a server object whose
// `handleConnection(socket)` runs one SMTP session, and `attach(server)`
// serves every connection of a listener handed over by master. Keeping this
// thin means wiring smtpd into a master.cf service is one small file.
import type { Server, Socket } from 'node:net';
import type { Endpoint } from './proxy-protocol.js';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import { Anvil } from '../anvil/anvil.js';
import { ClientList, normalizeAddr } from './client-list.js';
import { systemResolver, type PeerResolver } from './peer.js';
import type { SmtpdPolicy } from './policy-api.js';
import { Session, type SessionDeps } from './session.js';
import { readSettings, type SmtpdSettings } from './settings.js';
import type { AuthHook, EtrnHook, StartTlsHook } from './types.js';
import { readMilterSettings } from '../../global/milter/settings.js';
import { receiveOverrides } from '../../global/queue/receive-overrides.js';
import { createTranscripts } from './transcript.js';
import { IdleClock } from './idle-clock.js';

export interface SmtpdDeps {
  readonly config: ParamReader;
  readonly logger: Logger;
  readonly cleanup: CleanupService;
  readonly policy: SmtpdPolicy;
  /** Peer-name resolver; node:dns when absent. Tests inject one. */
  readonly resolver?: PeerResolver;
  /** Shared anvil for every smtpd service in the process; one per server when absent. */
  readonly anvil?: Anvil;
  /** master.cf service name (anvil key, log text); `smtp` by default. */
  readonly service?: string;
  readonly tls?: StartTlsHook;
  readonly auth?: AuthHook;
  readonly etrn?: EtrnHook;
  /** Clock for Received: dates; injectable for tests. */
  readonly now?: () => Date;
}

export interface SmtpdServer {
  readonly settings: SmtpdSettings;
  readonly anvil: Anvil;
  /**
   * Serve one SMTP session on an accepted socket; resolves when it has ended.
   * `listener`, the server that accepted it, spares a getsockname() per
   * connection when it is bound to one address.
   */
  handleConnection(socket: Socket, listener?: Server): Promise<void>;
  /** Serve every connection `server` accepts. */
  attach(server: Server): void;
  /** Sessions currently open. */
  sessionCount(): number;
}

export function createSmtpd(deps: SmtpdDeps): SmtpdServer {
  const settings = readSettings(deps.config, deps.service);
  const logger = deps.logger;
  const warn = (t: string): void => logger.warning(t);
  const anvil = deps.anvil ?? new Anvil({ rateTimeUnitMs: deps.config.time('anvil_rate_time_unit') * 1000 });
  const sessionDeps: SessionDeps = {
    settings,
    logger,
    cleanup: deps.cleanup,
    policy: deps.policy,
    resolver: deps.resolver ?? systemResolver(),
    anvil,
    lists: {
      bareNewlineExclusions: new ClientList(settings.bareNewlineExclusions, warn),
      eventLimitExceptions: new ClientList(settings.eventLimitExceptions, warn),
      xclient: new ClientList(settings.authorizedXclientHosts, warn),
      xforward: new ClientList(settings.authorizedXforwardHosts, warn),
      saslExceptions: new ClientList(settings.saslExceptionsNetworks, warn),
    },
    tls: deps.tls,
    auth: deps.auth,
    etrn: deps.etrn,
    now: deps.now ?? (() => new Date()),
    // receive_override_options = no_milters (e.g. a content filter's re-injection port) turns them off.
    ...((deps.config.get('smtpd_milters').trim() === '' && deps.config.get('smtpd_milter_maps').trim() === '') ||
    receiveOverrides(deps.config).has('no_milters')
      ? {}
      : { milters: readMilterSettings(deps.config, 'smtpd_milters', warn) }),
    transcripts: createTranscripts(deps.config, deps.cleanup, logger),
    idleClock: settings.timeoutSec > 0 ? new IdleClock(settings.timeoutSec * 1000) : undefined,
  };
  let open = 0;

  async function handleConnection(socket: Socket, listener?: Server): Promise<void> {
    open++;
    // A socket error before the session has its listeners must not crash the process.
    socket.on('error', ignore);
    try {
      await new Session(socket, sessionDeps, listener && boundEndpoint(listener)).serve();
    } catch (e) {
      logger.warning(`smtpd session failed: ${(e as Error).message}`);
      socket.destroy();
    } finally {
      open--;
    }
  }

  return {
    settings,
    anvil,
    handleConnection,
    attach(server: Server): void {
      server.on('connection', (socket: Socket) => {
        void handleConnection(socket, server);
      });
    },
    sessionCount: () => open,
  };
}

/** One listener function for every socket (not a closure per connection). */
function ignore(): void {}

const BOUND = new WeakMap<Server, Endpoint | null>();

/**
 * The one local endpoint every connection of `listener` has, or undefined
 * when it listens on a wildcard address (or not on TCP) and each accepted
 * socket must be asked. Read once per listener.
 */
export function boundEndpoint(listener: Server): Endpoint | undefined {
  let e = BOUND.get(listener);
  if (e === undefined) {
    const a = listener.address();
    e =
      a !== null && typeof a === 'object' && a.address !== '0.0.0.0' && a.address !== '::'
        ? Object.freeze({ addr: normalizeAddr(a.address), port: a.port })
        : null;
    // Not yet listening: ask again next time rather than remember a wrong answer.
    if (a !== null) BOUND.set(listener, e);
  }
  return e ?? undefined;
}
