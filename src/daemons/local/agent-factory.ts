// What the delivery process (docs/ARCHITECTURE.md, "Processes and
// privileges") calls to turn a master.cf entry whose command is local,
// virtual or pipe into a DeliveryAgent. The agents themselves switch to the
// recipient's uid/gid per delivery, so the process hosting them may be root.
import type { Dict } from '../../global/dict/dict-api.js';
import type { Logger } from '../../global/log/logger.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type { DeliveryAgent, DeliveryRequest } from '../../global/queue/delivery-api.js';
import { createPipeAgent } from '../pipe/pipe.js';
import { createVirtualAgent } from '../virtual/virtual.js';
import { createLocalAgent, type LocalAgentOptions, type PassFn } from './local.js';

export interface DeliveryAgentContext {
  readonly entry: Pick<MasterEntry, 'name' | 'command' | 'args'>;
  /** main.cf with the entry's -o overrides. */
  readonly config: ParamReader;
  readonly logger: Logger;
  /** local(8) forwarding (aliases/.forward to other addresses, luser_relay). */
  readonly cleanup?: CleanupService;
  /** local(8): whether an expanded address resolves to this local transport (trivial-rewrite). */
  readonly isLocal?: (address: string, req: DeliveryRequest) => Promise<boolean>;
  /** local(8): mailbox_transport / fallback_transport hand-off. */
  readonly pass?: PassFn;
  /** local(8): forwarded copies through another process's cleanup instead of `cleanup`. */
  readonly forward?: LocalAgentOptions['forward'];
  readonly openDict?: (spec: string) => Promise<Dict>;
}

/** The agent for a local/virtual/pipe entry; undefined for other commands. Throws on a bad pipe entry. */
export function createDeliveryAgent(ctx: DeliveryAgentContext): DeliveryAgent | undefined {
  const { entry, config, logger } = ctx;
  switch (entry.command) {
    case 'local':
      return createLocalAgent({
        config,
        logger,
        cleanup: ctx.cleanup,
        isLocal: ctx.isLocal,
        pass: ctx.pass,
        forward: ctx.forward,
        openDict: ctx.openDict,
        command: entry.command,
      });
    case 'virtual':
      return createVirtualAgent({ config, logger, openDict: ctx.openDict });
    case 'pipe':
      return createPipeAgent({ config, logger, service: entry.name, args: entry.args });
    default:
      return undefined;
  }
}
