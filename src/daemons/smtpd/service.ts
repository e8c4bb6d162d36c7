// smtpd(8) as a master.cf inet service: each inet entry (smtp, submission,
// 127.0.0.1:2525, ...) runs its own SMTP server with its own -o overrides on
// the sockets master bound for it. Messages go to the cleanup service found
// in the ServiceDirectory at the start of each transaction; the access policy
// is built from the entry's configuration; anvil is shared by every smtpd
// entry in the process; STARTTLS/SMTPS and AUTH hooks come from the entry's
// smtpd_tls_* and smtpd_sasl_* settings. `postfix reload` rebuilds the server
// from the new configuration for new connections; sessions in progress keep theirs.
import type { Server, Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import { directoryCleanup } from '../bounce/service.js';
import { ANVIL } from '../anvil/service.js';
import { QUEUE_FLUSHER } from '../../global/queue/service-keys.js';
import { createEtrnFlush } from './etrn-flush.js';
import { dnsPolicyResolver } from './dns-policy-resolver.js';
import { createSmtpdPolicy } from './restrictions/index.js';
import { createSmtpdAuth } from './sasl/server-auth.js';
import { createSmtpd, type SmtpdServer } from './smtpd.js';
import { createSmtpdTls } from './tls/server-tls.js';
import { VERIFY_SERVICE } from '../verify/verify-api.js';

async function build(
  ctx: ServiceContext,
  config: ParamReader,
  logger: Logger,
  cleanup: CleanupService,
): Promise<SmtpdServer> {
  const anvil = ctx.directory.get(ANVIL);
  const openDict = serviceDictOpener(config, logger);
  // Bad TLS/SASL parameter values throw here: a configuration error the service host logs as fatal.
  const tls = createSmtpdTls(config, logger, { openDict });
  const auth = config.bool('smtpd_sasl_auth_enable') ? createSmtpdAuth(config, openDict, logger) : undefined;
  // Dovecot tells its mechanism list only after the handshake; EHLO needs it.
  await auth?.ready();
  return createSmtpd({
    config,
    logger,
    cleanup,
    policy: createSmtpdPolicy({
      config,
      openDict,
      resolver: dnsPolicyResolver(),
      logger,
      verifier: () => ctx.directory.get(VERIFY_SERVICE),
    }),
    service: ctx.entry.name,
    tls,
    etrn: createEtrnFlush(config, openDict, logger, () => ctx.directory.get(QUEUE_FLUSHER)),
    ...(auth ? { auth } : {}),
    ...(anvil ? { anvil } : {}),
  });
}

/** Waits (bounded by the service host) until every session has ended. */
function drained(sockets: Set<Socket>): Promise<void> {
  if (sockets.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const check = (): void => {
      if (sockets.size === 0) resolve();
    };
    for (const s of sockets) s.once('close', check);
  });
}

const service: ServiceModule = {
  async start(ctx: ServiceContext): Promise<RunningService> {
    const cleanup = directoryCleanup(ctx.directory);
    let server = await build(ctx, ctx.config, ctx.logger, cleanup);
    const sockets = new Set<Socket>();
    const listeners: readonly Server[] = ctx.listeners;
    const handlers = listeners.map((l) => {
      const onConnection = (socket: Socket): void => {
        sockets.add(socket);
        // `on`, not `once`: a socket closes once, and once() wraps every listener.
        socket.on('close', () => sockets.delete(socket));
        void server.handleConnection(socket, l);
      };
      l.on('connection', onConnection);
      return onConnection;
    });
    return {
      async reload(config: ParamReader): Promise<void> {
        server = await build(ctx, config, ctx.logger, cleanup);
      },
      async stop(graceful: boolean): Promise<void> {
        listeners.forEach((l, i) => {
          const h = handlers[i];
          if (h) l.removeListener('connection', h);
        });
        if (!graceful) for (const s of sockets) s.destroy();
        await drained(sockets);
      },
    };
  },
};

export default service;
