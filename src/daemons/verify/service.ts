// verify(8) as a master.cf service (`verify unix - - y - 1 verify`): opens
// address_verify_map at first use, publishes the AddressVerifier under VERIFY_SERVICE
// (only for the entry named $address_verify_service_name), queues probes
// through whichever cleanup service is running, and runs the cache cleanup
// every address_verify_cache_cleanup_interval. Postfix restarts verify at
// `postfix reload`, losing a memory-only cache; so does this service (no
// reload method: the service host stops and starts it).
import type { ParamReader } from '../../global/params/types.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { directoryCleanup } from '../bounce/service.js';
import { REWRITER } from '../trivial-rewrite/service.js';
import { LazyVerifyMap } from './cache-map.js';
import { queueProbe } from './probe.js';
import { checkProbeSender, probeSenderAddress, probeSenderSettings } from './probe-sender.js';
import { Verifier, type VerifierSettings } from './verifier.js';
import { VERIFY_SERVICE } from './verify-api.js';

export function verifierSettings(config: ParamReader): VerifierSettings {
  return {
    positiveExpire: config.time('address_verify_positive_expire_time'),
    positiveRefresh: config.time('address_verify_positive_refresh_time'),
    negativeExpire: config.time('address_verify_negative_expire_time'),
    negativeRefresh: config.time('address_verify_negative_refresh_time'),
    negativeCache: config.bool('address_verify_negative_cache'),
  };
}

const service: ServiceModule = {
  start(ctx: ServiceContext): Promise<RunningService> {
    const { config, logger, directory } = ctx;
    checkProbeSender(config.get('address_verify_sender'));
    const publishes = ctx.entry.name === config.get('address_verify_service_name');
    const map = new LazyVerifyMap(config.get('address_verify_map'), (t) => logger.warning(t));
    const cleanup = directoryCleanup(directory);
    const sender = probeSenderSettings(config, (a) => directory.get(REWRITER)?.rewrite(a));
    const verifier = new Verifier({
      map,
      settings: verifierSettings(config),
      logger,
      sendProbe: async (address) => {
        await queueProbe(cleanup, probeSenderAddress(sender, Date.now() / 1000), address);
      },
    });
    if (publishes) directory.provide(VERIFY_SERVICE, verifier);
    const interval = config.time('address_verify_cache_cleanup_interval');
    let running = false;
    const timer =
      interval > 0
        ? setInterval(
            () => {
              if (running) return;
              running = true;
              verifier
                .cleanup()
                .catch((e: unknown) => logger.warning(`verify cache cleanup: ${(e as Error).message}`))
                .finally(() => (running = false));
            },
            Math.min(interval * 1000, 2 ** 31 - 1),
          )
        : undefined;
    timer?.unref();
    return Promise.resolve({
      async stop(): Promise<void> {
        if (timer) clearInterval(timer);
        if (publishes) directory.withdraw(VERIFY_SERVICE, verifier);
        await map.close().catch(() => undefined);
      },
    });
  },
};

export default service;
