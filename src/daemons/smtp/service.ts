// smtp(8) and lmtp(8) as master.cf services: each entry running `smtp` or
// `lmtp` (smtp, relay, lmtp, or any custom transport) publishes an SmtpAgent
// built with the entry's -o overrides under its service name, which is the
// transport name qmgr delivers through.
import { serviceDictOpener } from '../../global/service/dict-opener.js';
import { transportModule } from '../../global/service/transport-service.js';
import { SmtpAgent } from './agent.js';

export default transportModule(
  (config, logger, ctx) =>
    new SmtpAgent({
      config,
      protocol: ctx.entry.command === 'lmtp' ? 'lmtp' : 'smtp',
      log: logger,
      openDict: serviceDictOpener(config, logger),
    }),
);
