// Openers for tables answered by database servers (pgsql, mysql, sqlite,
// ldap, memcache, redis), kept apart from open.ts so that file and pattern
// tables do not load database drivers. Each driver is imported lazily.
import type { DictOpener } from './open.js';

export const SERVER_TYPES: Record<string, DictOpener> = {};
