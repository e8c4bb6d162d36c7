// The shape every delivery-agent service shares (smtp, lmtp, error, discard,
// and later local, virtual, pipe): build the agent from the entry's own
// configuration (main.cf plus its -o overrides) and publish it under the
// entry's service name, which is the transport name qmgr resolves to. A reload
// builds a fresh agent; deliveries already running finish on the old one.
import type { Logger } from '../log/logger.js';
import type { ParamReader } from '../params/types.js';
import type { DeliveryAgent } from '../queue/delivery-api.js';
import { entryMaxproc, transportKey, type TransportService } from '../queue/transport-keys.js';
import type { RunningService, ServiceContext, ServiceModule } from './service-api.js';

/** An agent that holds resources (cached connections) says how to let them go. */
export type ClosableAgent = DeliveryAgent & { close?(): Promise<void> };

export function transportModule(
  build: (config: ParamReader, logger: Logger, ctx: ServiceContext) => ClosableAgent,
): ServiceModule {
  return {
    start(ctx: ServiceContext): Promise<RunningService> {
      const key = transportKey(ctx.entry.name);
      const publish = (agent: ClosableAgent): TransportService => {
        const maxproc = entryMaxproc(ctx.entry);
        const t: TransportService = maxproc === undefined ? { agent } : { agent, maxproc };
        ctx.directory.provide(key, t);
        return t;
      };
      let current = publish(build(ctx.config, ctx.logger, ctx));
      const retire = (t: TransportService): Promise<void> =>
        (t.agent as ClosableAgent).close?.().catch(() => undefined) ?? Promise.resolve();
      return Promise.resolve({
        async reload(config: ParamReader): Promise<void> {
          const old = current;
          current = publish(build(config, ctx.logger, ctx));
          await retire(old);
        },
        async stop(): Promise<void> {
          ctx.directory.withdraw(key, current);
          await retire(current);
        },
      });
    },
  };
}
