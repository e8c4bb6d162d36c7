// anvil(8) as a master.cf service: one in-process Anvil (per-client connection
// counts and rates) shared by every smtpd entry of the core process, as
// Postfix's single anvil daemon serves every smtpd process.
import type { ParamReader } from '../../global/params/types.js';
import { serviceKey } from '../../global/service/directory.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { Anvil } from './anvil.js';

export const ANVIL = serviceKey<Anvil>('anvil');

const build = (config: ParamReader): Anvil => new Anvil({ rateTimeUnitMs: config.time('anvil_rate_time_unit') * 1000 });

const service: ServiceModule = {
  start(ctx: ServiceContext): Promise<RunningService> {
    let anvil = build(ctx.config);
    let unit = ctx.config.get('anvil_rate_time_unit');
    ctx.directory.provide(ANVIL, anvil);
    return Promise.resolve({
      reload(config: ParamReader): Promise<void> {
        // Counts start from zero only if the rate unit changed; otherwise they carry over.
        if (config.get('anvil_rate_time_unit') !== unit) {
          unit = config.get('anvil_rate_time_unit');
          anvil = build(config);
          ctx.directory.provide(ANVIL, anvil);
        }
        return Promise.resolve();
      },
      stop(): Promise<void> {
        ctx.directory.withdraw(ANVIL, anvil);
        return Promise.resolve();
      },
    });
  },
};

export default service;
