// How many smtpd worker processes master runs (postern_smtpd_workers, a
// Postern parameter: Postfix runs a process per session and has no such
// knob). 0 keeps smtpd sessions in the core worker next to the queue; 1 gives
// them a process of their own, so that SMTP and the queue use two cores;
// `auto` is 1 when the machine has at least two, else 0. The default is 0:
// on a busy machine the extra hop per message costs more than the second
// core gives (bench/TRIED.md).
import { availableParallelism } from 'node:os';
import type { ParamReader } from '../../global/params/types.js';

export interface SmtpdWorkerChoice {
  readonly workers: 0 | 1;
  /** Set when the value was not usable as given (logged by master). */
  readonly warning?: string;
}

export function smtpdWorkers(config: ParamReader, cores: number = availableParallelism()): SmtpdWorkerChoice {
  const asked = config.get('postern_smtpd_workers').trim().toLowerCase();
  const auto: 0 | 1 = cores >= 2 ? 1 : 0;
  if (asked === '' || asked === '0') return { workers: 0 };
  if (asked === 'auto') return { workers: auto };
  if (asked === '1') return { workers: 1 };
  if (/^\d+$/.test(asked))
    // More processes would need anvil's counts shared between them (docs/ARCHITECTURE.md).
    return { workers: 1, warning: `postern_smtpd_workers = ${asked}: at most one smtpd process is supported; using 1` };
  return {
    workers: auto,
    warning: `postern_smtpd_workers = ${asked}: expected auto, 0 or 1; using auto (${auto})`,
  };
}
