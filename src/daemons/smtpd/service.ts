// smtpd(8) as a master.cf inet service: each inet entry (smtp, submission,
// 127.0.0.1:2525, ...) runs its own SMTP server with its own -o overrides on
// the sockets master bound for it. Messages go to the cleanup service found
// in the ServiceDirectory at the start of each transaction; the access policy
// is built from the entry's configuration; anvil is shared by every smtpd
// entry in the process. `postfix reload` rebuilds the server from the new
// configuration for new connections; sessions in progress keep theirs.
import type { Server, Socket } from 'node:net';
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import { directoryCleanup } from '../bounce/service.js';
import { ANVIL } from '../anvil/service.js';
import { dnsPolicyResolver } from './dns-policy-resolver.js';
import { createSmtpdPolicy } from './restrictions/index.js';
import { createSmtpd, type SmtpdServer } from './smtpd.js';

function build(ctx: ServiceContext, config: ParamReader, logger: Logger, cleanup: CleanupService): SmtpdServer {
  const anvil = ctx.directory.get(ANVIL);
  return createSmtpd({
    config,
    logger,
    cleanup,
    policy: createSmtpdPolicy({
      config,
      openDict: serviceDictOpener(config, logger),
      resolver: dnsPolicyResolver(),
      logger,
    }),
    service: ctx.entry.name,
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
  start(ctx: ServiceContext): Promise<RunningService> {
    const cleanup = directoryCleanup(ctx.directory);
    let server = build(ctx, ctx.config, ctx.logger, cleanup);
    const sockets = new Set<Socket>();
    const onConnection = (socket: Socket): void => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      void server.handleConnection(socket);
    };
    const listeners: readonly Server[] = ctx.listeners;
    for (const l of listeners) l.on('connection', onConnection);
    return Promise.resolve({
      reload(config: ParamReader): Promise<void> {
        server = build(ctx, config, ctx.logger, cleanup);
        return Promise.resolve();
      },
      async stop(graceful: boolean): Promise<void> {
        for (const l of listeners) l.removeListener('connection', onConnection);
        if (!graceful) for (const s of sockets) s.destroy();
        await drained(sockets);
      },
    });
  },
};

export default service;
