// Whose privileges a delivery runs with (local(8) SECURITY, virtual(8)): the
// recipient, an alias database or :include: file owner, or default_privs;
// never root. As root the delivery child gets that uid/gid; without root the
// mail system may only deliver as the invoking user (the embedded default).
import { getpwAsync, type PasswdEntry } from '../../util/passwd.js';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly user: string;
  readonly home: string;
  readonly shell?: string;
}

/** The spawn() options that put a child under `who`, or a reason why that is impossible. */
export type SpawnIdentity =
  { readonly ok: true; readonly uid?: number; readonly gid?: number } | { readonly ok: false; readonly reason: string };

/** This process's uid: it never changes identity itself (children do), so one getuid(2) serves every delivery. */
let ownUid: number | undefined;
function myUid(): number {
  ownUid ??= process.getuid?.() ?? -1;
  return ownUid;
}

export function isRoot(): boolean {
  return myUid() === 0;
}

export function spawnIdentity(who: { uid: number; gid: number; user: string }): SpawnIdentity {
  if (who.uid === 0)
    return { ok: false, reason: `mail system configuration error: refusing to deliver as root (user ${who.user})` };
  if (isRoot()) return { ok: true, uid: who.uid, gid: who.gid };
  if (who.uid === myUid()) return { ok: true };
  return { ok: false, reason: `cannot deliver as user ${who.user} (uid ${who.uid}) without root privileges` };
}

export function fromPasswd(pw: PasswdEntry): Identity {
  return { uid: pw.uid, gid: pw.gid, user: pw.name, home: pw.home };
}

/**
 * Each lookup runs getent(1) as a child (asynchronously: the event loop keeps
 * serving other deliveries meanwhile); answers are kept briefly, as nscd
 * would, and concurrent lookups of one name share one child.
 */
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 1000;
const cache = new Map<string, { at: number; entry: Promise<Identity | undefined> }>();

/** getpwnam() (or getpwuid() for a number) for a recipient or a file owner. */
export function lookupUser(name: string): Promise<Identity | undefined> {
  const now = Date.now();
  const hit = cache.get(name);
  if (hit && now - hit.at < CACHE_TTL_MS) return hit.entry;
  const entry = getpwAsync(name).then((pw) => (pw ? fromPasswd(pw) : undefined));
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(name, { at: now, entry });
  return entry;
}

/** default_privs: the rights of deliveries to files and commands in root-owned alias tables. */
export async function defaultPrivs(name: string): Promise<Identity | undefined> {
  const pw = await lookupUser(name);
  if (!pw || pw.uid === 0) return undefined;
  return pw;
}
