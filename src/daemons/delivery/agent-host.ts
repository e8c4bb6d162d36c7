// The agents the delivery process hosts: one per master.cf entry whose
// command is local, virtual or pipe, built from main.cf with the entry's -o
// overrides, exactly as the core worker would build them, except that what
// needs the core (trivial-rewrite, cleanup, other transports) goes over the
// channel (delivery-server.ts). `postfix reload` rebuilds them; deliveries in
// progress finish on the agents they started with.
import { createLogger } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import type { Config } from '../../global/params/config.js';
import type { DeliveryAgent } from '../../global/queue/delivery-api.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import { serviceConfigOf } from '../../global/service/service-host.js';
import { createDeliveryAgent } from '../local/agent-factory.js';
import { brokenAgent } from '../local/broken-agent.js';
import { remoteForward, remoteIsLocal, remotePass } from './delivery-server.js';

/** The master.cf commands whose deliveries need the recipient's privileges. */
export const PRIVILEGED_COMMANDS: ReadonlySet<string> = new Set(['local', 'virtual', 'pipe']);

export class AgentHost {
  private agents = new Map<string, DeliveryAgent>();

  constructor(private readonly log: Logger) {}

  agentFor(service: string): DeliveryAgent | undefined {
    return this.agents.get(service);
  }

  /** Build the agents for `entries` (the whole master.cf); returns how many started and how many were skipped. */
  apply(config: Config, entries: readonly MasterEntry[]): { started: number; skipped: number } {
    const next = new Map<string, DeliveryAgent>();
    let skipped = 0;
    for (const entry of entries) {
      if (entry.type !== 'unix' || !PRIVILEGED_COMMANDS.has(entry.command)) continue;
      const serviceConfig = serviceConfigOf(config, entry);
      let logger: Logger;
      try {
        logger = createLogger(serviceConfig, entry.command);
      } catch (e) {
        this.log.warning(`master.cf line ${entry.line}: ${(e as Error).message}; using the master's log settings`);
        logger = this.log.child(entry.command);
      }
      let agent: DeliveryAgent | undefined;
      try {
        agent = createDeliveryAgent({
          entry,
          config: serviceConfig,
          logger,
          isLocal: remoteIsLocal,
          forward: remoteForward,
          pass: remotePass,
          openDict: serviceDictOpener(serviceConfig, logger),
        });
      } catch (e) {
        agent = brokenAgent(entry.command, (e as Error).message, logger);
        skipped++;
      }
      if (agent) next.set(entry.name, agent);
    }
    this.agents = next;
    return { started: next.size - skipped, skipped };
  }
}
