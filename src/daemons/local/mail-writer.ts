// Runs the mailbox writer (native/postern-deliver.c) as the recipient: the
// only way local(8) and virtual(8) put bytes into a mailbox, maildir or file.
// The writer is started with the recipient's uid/gid (spawn() also drops
// supplementary groups), so the kernel checks permissions; it is normally a
// long-lived one per identity from helper-pool.ts, else a single-shot run. It adds
// Postfix's safe_open() checks and mbox locking. Touches: processes, files
// (through the child only).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HelperPool, type PoolLimits } from './helper-pool.js';
import type { SpawnIdentity } from './identity.js';
import { MaildirBatcher, type BatchItem, type BatchResult, type WriteSlot } from './maildir-batch.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/daemons/local → dist/native/postern-deliver (built by native/build.mjs). */
export const HELPER_PATH = join(here, '..', '..', '..', 'native', 'postern-deliver');

/** Once the helper is found it stays (a removed binary then fails at spawn with its own message). */
let helperFound = false;
export function helperAvailable(): boolean {
  helperFound ||= existsSync(HELPER_PATH);
  return helperFound;
}

export type WriteResult =
  | { readonly ok: true; readonly output: Buffer }
  | { readonly ok: false; readonly dsn: string; readonly reason: string };

/** Longest a helper may run: lock waits are bounded by deliver_lock_attempts × deliver_lock_delay. */
const HELPER_TIME_LIMIT_MS = 10 * 60_000;
const MAX_OUTPUT = 1 << 20;

/** The helper's answer as a WriteResult: exit 0 is success, otherwise its "D.D.D text" line. */
function toResult(status: number, output: Buffer, stderr: string, why: string): WriteResult {
  if (status === 0) return { ok: true, output };
  const line = output.toString('utf8').split('\n')[0] ?? '';
  const m = /^([245]\.\d{1,3}\.\d{1,3}) (.*)$/.exec(line);
  if (m) return { ok: false, dsn: m[1] ?? '4.3.0', reason: m[2] ?? '' };
  return { ok: false, dsn: '4.3.0', reason: `delivery helper failed: ${why}${stderr ? `: ${stderr.trim()}` : ''}` };
}

let pool: HelperPool | undefined;

/** The long-lived writers this process keeps (one set per identity); tests read its stats. */
export function helperPool(): HelperPool {
  pool ??= new HelperPool(HELPER_PATH);
  return pool;
}

/** Replace the pool (tests: other limits); the old one's helpers are closed. */
export function resetHelperPool(limits?: PoolLimits): HelperPool {
  pool?.closeAll();
  pool = new HelperPool(HELPER_PATH, limits);
  return pool;
}

export async function runHelper(
  who: SpawnIdentity,
  args: readonly string[],
  input: Buffer | undefined,
): Promise<WriteResult> {
  if (!who.ok) return { ok: false, dsn: '4.3.0', reason: who.reason };
  if (!helperAvailable())
    return { ok: false, dsn: '4.3.0', reason: `mail system configuration error: ${HELPER_PATH} is not built` };
  const pending = helperPool().run(who, args, input);
  if (!pending) return runOnce(who, args, input);
  const r = await pending;
  // A helper that died mid-request: the write may be incomplete, so the recipient is deferred.
  if (r.status < 0) return { ok: false, dsn: '4.3.0', reason: r.stderr };
  const why = r.status > 128 ? `killed by signal ${r.status - 128}` : `exit status ${r.status}`;
  return toResult(r.status, r.output, r.stderr, why);
}

/** One helper process for one request: when every pooled helper is busy. */
function runOnce(
  who: { readonly uid?: number; readonly gid?: number },
  args: readonly string[],
  input: Buffer | undefined,
): Promise<WriteResult> {
  return new Promise((resolve) => {
    const child = spawn(HELPER_PATH, args, {
      uid: who.uid,
      gid: who.gid,
      cwd: '/',
      // The stated length makes the helper roll back content that arrives cut short.
      env: { PATH: '/usr/bin:/bin', POSTERN_DELIVER_SIZE: String(input?.length ?? 0) },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: HELPER_TIME_LIMIT_MS,
    });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 1000) err += b.toString('utf8');
    });
    // The helper may exit early (e.g. a refused mailbox) before reading all input.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => resolve({ ok: false, dsn: '4.3.0', reason: `cannot run delivery helper: ${e.message}` }));
    child.on('close', (code, signal) => {
      const why = signal ? `killed by signal ${signal}` : `exit status ${code ?? '?'}`;
      resolve(toResult(code ?? -1, Buffer.concat(out), err, why));
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

export interface LockSettings {
  /** mailbox_delivery_lock / virtual_mailbox_lock methods. */
  readonly methods: readonly string[];
  readonly attempts: number;
  readonly delaySeconds: number;
  readonly staleSeconds: number;
}

/** Append an mbox-format message to a file (mailbox or alias /file/name). */
export function appendMbox(
  who: SpawnIdentity,
  path: string,
  data: Buffer,
  o: { lock: LockSettings; limit: number; ownerCheck: boolean; makeParents?: boolean },
): Promise<WriteResult> {
  const methods = o.lock.methods.filter((m) => m === 'fcntl' || m === 'flock' || m === 'dotlock');
  return runHelper(
    who,
    [
      'mbox',
      path,
      methods.length ? methods.join(',') : '-',
      String(Math.max(0, o.limit)),
      o.ownerCheck ? '1' : '0',
      String(Math.max(1, o.lock.attempts)),
      String(Math.max(0, o.lock.delaySeconds)),
      String(Math.max(1, o.lock.staleSeconds)),
      o.makeParents ? '1' : '0',
    ],
    data,
  );
}

let counter = 0;
/** The host part of maildir names, refreshed once a minute rather than one uname(2) per file. */
let hostCache = { name: '', at: -Infinity };

function maildirHost(now: number): string {
  if (now - hostCache.at >= 60_000 || now < hostCache.at)
    hostCache = { name: hostname().replace(/\//g, '\\057').replace(/:/g, '\\072'), at: now };
  return hostCache.name;
}

/** A maildir file name unique per host, process, time and call (the maildir convention). */
export function maildirUniqueName(now = Date.now()): string {
  counter = (counter + 1) % 1_000_000;
  const host = maildirHost(now);
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000 + (counter % 1000);
  return `${sec}.P${process.pid}Q${counter}M${usec}.${host}`;
}

/** One `maildirs` request for files of one maildir; one result per file. */
async function writeBatch(who: SpawnIdentity, base: string, limit: number, items: BatchItem[]): Promise<BatchResult[]> {
  const one = (i: BatchItem): Promise<WriteResult> =>
    runHelper(who, ['maildir', base, String(Math.max(0, limit)), i.unique], i.data);
  if (items.length === 1 || !who.ok || !helperAvailable()) return Promise.all(items.map(one));
  const args = ['maildirs', base, String(Math.max(0, limit)), String(items.length)];
  for (const i of items) args.push(i.unique, String(i.data.length));
  const pending = helperPool().run(
    who,
    args,
    items.map((i) => i.data),
  );
  // Every pooled helper busy: the single-shot helper takes one file at a time.
  if (!pending) return Promise.all(items.map(one));
  const r = await pending;
  if (r.status < 0) return items.map(() => ({ ok: false, dsn: '4.3.0', reason: r.stderr }));
  if (r.status !== 0) {
    const fail = toResult(r.status, r.output, r.stderr, `exit status ${r.status}`);
    return items.map(() => fail);
  }
  const lines = r.output.toString('utf8').split('\n');
  return items.map((_, n) => {
    const line = lines[n];
    if (line === '') return { ok: true };
    return toResult(1, Buffer.from(line ?? 'no answer for this message'), r.stderr, 'no answer for this message');
  });
}

const batcher = new MaildirBatcher(writeBatch);

/** `slot`: the delivery's gate slot in the delivery process (maildir-batch.ts `writeSlots`). */
export async function deliverMaildir(
  who: SpawnIdentity,
  dir: string,
  data: Buffer,
  limit: number,
  slot: WriteSlot | undefined,
): Promise<WriteResult> {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  // Outside the delivery process's gate (in-process agents, tests) each write goes alone, as before.
  if (!slot || !who.ok || !helperAvailable())
    return runHelper(who, ['maildir', base, String(Math.max(0, limit)), maildirUniqueName()], data);
  const r = await batcher.submit(who, base, limit, { unique: maildirUniqueName(), data }, slot);
  return r.ok ? { ok: true, output: Buffer.alloc(0) } : r;
}

export interface ReadResult {
  readonly ok: true;
  readonly ownerUid: number;
  readonly mode: number;
  readonly text: string;
}

/** Read a .forward or :include: file with the reader's privileges. */
export async function readAs(
  who: SpawnIdentity,
  path: string,
  maxBytes: number,
): Promise<ReadResult | { ok: false; missing: boolean; dsn: string; reason: string }> {
  const r = await runHelper(who, ['read', path, String(maxBytes)], undefined);
  // The helper reports a missing file with 5.1.1 (and only that).
  if (!r.ok) return { ...r, missing: r.dsn === '5.1.1' };
  const text = r.output.toString('utf8');
  const nl = text.indexOf('\n');
  const m = /^(\d+) ([0-7]+)$/.exec(text.slice(0, nl));
  if (!m) return { ok: false, missing: false, dsn: '4.3.0', reason: `unexpected output reading ${path}` };
  return { ok: true, ownerUid: Number(m[1]), mode: Number.parseInt(m[2] ?? '0', 8), text: text.slice(nl + 1) };
}
