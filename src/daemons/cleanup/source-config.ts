// Which configuration a message's source had: Postfix's smtpd, qmqpd and
// pickup read content_filter and receive_override_options with their own
// master.cf `-o` overrides and pass the result to cleanup with each message.
// Postern's sources name their master.cf service in the cleanup request, so
// cleanup looks that entry up here (read from master.cf at start and reload).
import type { Logger } from '../../global/log/logger.js';
import { loadMasterCf } from '../../global/mastercf/parse.js';
import type { MasterEntry } from '../../global/mastercf/types.js';
import type { ParamReader } from '../../global/params/types.js';

/** Commands that receive mail from outside the queue and hand it to cleanup. */
const SOURCE_COMMANDS: ReadonlySet<string> = new Set(['smtpd', 'pickup', 'qmqpd']);

/** Service name → main.cf with that source entry's `-o` overrides. */
export function sourceConfigs(
  config: ParamReader,
  entries: readonly MasterEntry[],
): (service: string) => ParamReader | undefined {
  const byName = new Map<string, ParamReader>();
  for (const e of entries) {
    if (!SOURCE_COMMANDS.has(e.command.replace(/^.*\//, ''))) continue;
    byName.set(e.name, config.withOverrides({ service_name: e.name }).withOverrides(e.overrides));
  }
  return (service) => byName.get(service);
}

/**
 * The same from `$config_directory/master.cf`. Without a readable master.cf
 * (a cleanup run on its own) every source gets main.cf's values.
 */
export function loadSourceConfigs(config: ParamReader, logger: Logger): (service: string) => ParamReader | undefined {
  let entries: MasterEntry[];
  try {
    entries = loadMasterCf(config.get('config_directory')).entries;
  } catch (e) {
    logger.warning(`cannot read master.cf for per-service receive options: ${(e as Error).message}`);
    return () => undefined;
  }
  return sourceConfigs(config, entries);
}
