// Per-transport parameters that Postfix derives from master.cf service names
// (postconf(5) "transport_destination_concurrency_limit" and friends): for a
// delivery service named `relay`, `relay_destination_concurrency_limit`
// exists and defaults to `$default_destination_concurrency_limit`. They are
// not in the static registry; qmgr and postconf derive them at run time.
import type { MasterEntry } from '../mastercf/types.js';
import { paramSpec } from './registry.js';
import type { ParamSpec, ParamType } from './types.js';

/** Commands that qmgr delivers through, so their services get per-transport tuning names. */
const DELIVERY_COMMANDS: ReadonlySet<string> = new Set(['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error']);

/** Suffix, default text and type of each per-transport parameter. */
const TRANSPORT_FAMILY: readonly (readonly [string, string, ParamType])[] = [
  ['delivery_slot_cost', '$default_delivery_slot_cost', 'int'],
  ['delivery_slot_discount', '$default_delivery_slot_discount', 'int'],
  ['delivery_slot_loan', '$default_delivery_slot_loan', 'int'],
  ['destination_concurrency_failed_cohort_limit', '$default_destination_concurrency_failed_cohort_limit', 'int'],
  ['destination_concurrency_limit', '$default_destination_concurrency_limit', 'int'],
  ['destination_concurrency_negative_feedback', '$default_destination_concurrency_negative_feedback', 'string'],
  ['destination_concurrency_positive_feedback', '$default_destination_concurrency_positive_feedback', 'string'],
  ['destination_rate_delay', '$default_destination_rate_delay', 'time'],
  ['destination_recipient_limit', '$default_destination_recipient_limit', 'int'],
  ['extra_recipient_limit', '$default_extra_recipient_limit', 'int'],
  ['initial_destination_concurrency', '$initial_destination_concurrency', 'int'],
  ['minimum_delivery_slots', '$default_minimum_delivery_slots', 'int'],
  ['recipient_limit', '$default_recipient_limit', 'int'],
  ['recipient_refill_delay', '$default_recipient_refill_delay', 'time'],
  ['recipient_refill_limit', '$default_recipient_refill_limit', 'int'],
  ['transport_rate_delay', '$default_transport_rate_delay', 'time'],
];

/** pipe(8) services also get `<service>_time_limit`. */
const PIPE_FAMILY: readonly (readonly [string, string, ParamType])[] = [['time_limit', '$command_time_limit', 'time']];

/** Whether a master.cf entry is a delivery transport that gets the per-transport names. */
export function isDeliveryService(e: Pick<MasterEntry, 'type' | 'command'>): boolean {
  return e.type === 'unix' && DELIVERY_COMMANDS.has(e.command);
}

/**
 * The parameters derived from master.cf service names, sorted by name.
 * Names the static registry already defines (e.g. `local_destination_recipient_limit = 1`)
 * keep the registry's default.
 */
export function serviceParams(entries: readonly Pick<MasterEntry, 'name' | 'type' | 'command'>[]): ParamSpec[] {
  const out = new Map<string, ParamSpec>();
  for (const e of entries) {
    if (!isDeliveryService(e)) continue;
    const families = e.command === 'pipe' ? [...TRANSPORT_FAMILY, ...PIPE_FAMILY] : TRANSPORT_FAMILY;
    for (const [suffix, def, type] of families) {
      const name = `${e.name}_${suffix}`;
      if (paramSpec(name) || out.has(name)) continue;
      out.set(name, { name, def, type, component: 'qmgr' });
    }
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The default of a per-transport name for any transport, for readers that
 * know the transport name but not master.cf (qmgr asking about `relay`).
 */
export function transportParamDefault(name: string): ParamSpec | undefined {
  for (const [suffix, def, type] of [...TRANSPORT_FAMILY, ...PIPE_FAMILY]) {
    const tail = `_${suffix}`;
    if (name.endsWith(tail) && name.length > tail.length) return { name, def, type, component: 'qmgr' };
  }
  return undefined;
}
