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

/**
 * qmgr tags a delivery's status line `$syslog_name/<agent command>` with its
 * own syslog_name. An entry with `-o syslog_name=postfix/$service_name` (the
 * stock relay entry) must log as `postfix/relay/smtp`, so the part of the
 * entry's syslog_name after the first `/` goes in front of the command.
 */
function taggedFor(agent: ClosableAgent, syslogName: string): ClosableAgent {
  const slash = syslogName.indexOf('/');
  if (slash < 0 || slash === syslogName.length - 1) return agent;
  const command = `${syslogName.slice(slash + 1)}/${agent.command}`;
  const tagged: ClosableAgent = { command, deliver: (req) => agent.deliver(req) };
  if (agent.close) tagged.close = () => agent.close?.() ?? Promise.resolve();
  return tagged;
}

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
      let current = publish(taggedFor(build(ctx.config, ctx.logger, ctx), ctx.config.get('syslog_name')));
      const retire = (t: TransportService): Promise<void> =>
        (t.agent as ClosableAgent).close?.().catch(() => undefined) ?? Promise.resolve();
      return Promise.resolve({
        async reload(config: ParamReader): Promise<void> {
          const old = current;
          current = publish(taggedFor(build(config, ctx.logger, ctx), config.get('syslog_name')));
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
