// The `type:name` table opener a service hands to the daemon code it wires:
// the process-wide cached openDict (global/dict/open.ts) with the service's
// own configuration and its load-time warnings in the mail log.
import { openDict } from '../dict/open.js';
import type { Dict } from '../dict/dict-api.js';
import type { Logger } from '../log/logger.js';
import type { ParamReader } from '../params/types.js';

export function serviceDictOpener(config: ParamReader, logger: Logger): (spec: string) => Promise<Dict> {
  return (spec) => openDict(spec, { config, warn: (text) => logger.warning(text) });
}
