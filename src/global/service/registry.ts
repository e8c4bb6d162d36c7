// Which module implements each master.cf command (the program name in the
// 9th column: smtpd, cleanup, qmgr, ...). Each area adds its line here when its
// daemon can run as a service. A command that is a known Postfix daemon but has
// no module yet is logged as `not yet supported` and skipped; an absolute path
// to a .js file is loaded as a third-party service module (as Postfix runs an
// absolute command path instead of one in daemon_directory).
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceModule } from './service-api.js';

export type ServiceLoader = () => Promise<ServiceModule>;

/** Implemented services. Keep one line per command, sorted. */
const LOADERS: ReadonlyMap<string, ServiceLoader> = new Map<string, ServiceLoader>([
  ['anvil', async () => (await import('../../daemons/anvil/service.js')).default],
  ['bounce', async () => (await import('../../daemons/bounce/service.js')).default],
  ['cleanup', async () => (await import('../../daemons/cleanup/service.js')).default],
  ['discard', async () => (await import('../../daemons/discard/service.js')).default],
  ['error', async () => (await import('../../daemons/error/service.js')).default],
  ['flush', async () => (await import('../../daemons/flush/flush-service.js')).default],
  ['lmtp', async () => (await import('../../daemons/smtp/service.js')).default],
  ['local', async () => (await import('../../daemons/delivery/proxy-service.js')).default],
  ['pickup', async () => (await import('../../daemons/pickup/pickup-service.js')).default],
  ['pipe', async () => (await import('../../daemons/delivery/proxy-service.js')).default],
  ['qmgr', async () => (await import('../../daemons/qmgr/qmgr-service.js')).default],
  ['smtp', async () => (await import('../../daemons/smtp/service.js')).default],
  ['smtpd', async () => (await import('../../daemons/smtpd/service.js')).default],
  ['trivial-rewrite', async () => (await import('../../daemons/trivial-rewrite/service.js')).default],
  ['verify', async () => (await import('../../daemons/verify/service.js')).default],
  ['virtual', async () => (await import('../../daemons/delivery/proxy-service.js')).default],
]);

/** Daemons of Postfix 3.7's stock master.cf and postconf(5), for the `not yet supported` message. */
export const POSTFIX_DAEMONS: ReadonlySet<string> = new Set([
  'anvil',
  'bounce',
  'cleanup',
  'discard',
  'dnsblog',
  'error',
  'flush',
  'local',
  'lmtp',
  'oqmgr',
  'pickup',
  'pipe',
  'postlogd',
  'postscreen',
  'proxymap',
  'qmgr',
  'qmqpd',
  'scache',
  'showq',
  'smtp',
  'smtpd',
  'spawn',
  'tlsmgr',
  'tlsproxy',
  'trivial-rewrite',
  'verify',
  'virtual',
]);

export type Resolution =
  | { readonly kind: 'module'; readonly load: ServiceLoader }
  | { readonly kind: 'unsupported' }
  | { readonly kind: 'unknown' };

export function resolveService(command: string): Resolution {
  const load = LOADERS.get(command);
  if (load) return { kind: 'module', load };
  if (isAbsolute(command) && /\.m?js$/.test(command)) {
    return { kind: 'module', load: () => loadExternal(command) };
  }
  return POSTFIX_DAEMONS.has(command) ? { kind: 'unsupported' } : { kind: 'unknown' };
}

async function loadExternal(file: string): Promise<ServiceModule> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown; start?: unknown };
  const candidate = (mod.default ?? mod) as Partial<ServiceModule>;
  if (typeof candidate.start !== 'function') throw new Error(`${file}: no start() export`);
  return candidate as ServiceModule;
}
