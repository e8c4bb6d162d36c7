// local(8), virtual(8) and pipe(8) built inside the calling process, for
// hosts without a delivery process: the ServiceHost outside master (tests,
// embedding). Under master the core worker uses delivery/proxy-service.ts,
// which sends these deliveries to the delivery process instead.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import type { DeliveryAgent } from '../../global/queue/delivery-api.js';
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import type { ServiceContext } from '../../global/service/service-api.js';
import { transportModule } from '../../global/service/transport-service.js';
import { directoryCleanup } from '../bounce/service.js';
import { directoryRewriter } from '../trivial-rewrite/service.js';
import { createDeliveryAgent } from './agent-factory.js';
import { brokenAgent } from './broken-agent.js';

export function inProcessAgent(config: ParamReader, logger: Logger, ctx: ServiceContext): DeliveryAgent {
  const rewriter = directoryRewriter(ctx.directory);
  let agent: DeliveryAgent | undefined;
  try {
    agent = createDeliveryAgent({
      entry: ctx.entry,
      config,
      logger,
      cleanup: directoryCleanup(ctx.directory),
      isLocal: async (address) => (await rewriter.resolve(address, '')).transport === ctx.entry.name,
      openDict: serviceDictOpener(config, logger),
    });
  } catch (e) {
    return brokenAgent(ctx.entry.command, (e as Error).message, logger);
  }
  if (!agent) throw new Error(`${ctx.entry.command}: not a delivery agent command`);
  return agent;
}

export default transportModule(inProcessAgent);
