// smtpd's ETRN hook onto the running queue manager (flush(8)'s job in
// Postfix): a domain that matches fast_flush_domains has its deferred mail
// retried at once through the QUEUE_FLUSHER qmgr publishes; any other domain
// is refused, as Postfix's flush client refuses it before asking the server;
// so is an address literal.
import type { Logger } from '../../global/log/logger.js';
import { MatchList, parentDomainMatcher } from '../../global/match/match-list.js';
import type { ParamReader } from '../../global/params/types.js';
import type { QueueFlusher } from '../../global/queue/service-keys.js';
import type { DictOpener } from './restrictions/index.js';
import type { EtrnHook } from './types.js';

export function createEtrnFlush(
  config: ParamReader,
  openDict: DictOpener,
  logger: Logger,
  flusher: () => QueueFlusher | undefined,
): EtrnHook {
  let eligible: Promise<MatchList> | undefined;
  const list = (): Promise<MatchList> => {
    eligible ??= MatchList.create(config.get('fast_flush_domains'), {
      paramName: 'fast_flush_domains',
      parentMatchesSubdomains: parentDomainMatcher(config.get('parent_domain_matches_subdomains'))(
        'fast_flush_domains',
      ),
      openDict,
    });
    return eligible;
  };
  return {
    async flush(domain) {
      // Postfix's flush service takes only domain names: an address literal
      // ([192.0.2.1]) is refused even when fast_flush_domains lists it.
      if (domain.startsWith('[')) return 'deny';
      let ok: boolean;
      try {
        ok = await (await list()).matchHost(domain.replace(/\.$/, '').toLowerCase());
      } catch (e) {
        // A fast_flush_domains table that cannot be read: the service cannot decide.
        logger.warning(`fast_flush_domains: ${(e as Error).message}`);
        eligible = undefined;
        return 'unavailable';
      }
      if (!ok) return 'deny';
      const qmgr = flusher();
      if (!qmgr) return 'unavailable';
      qmgr.flush(domain);
      return 'ok';
    },
  };
}
