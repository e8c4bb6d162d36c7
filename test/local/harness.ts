// Shared by the local, virtual and pipe suites: real test users (created when
// missing, as .ci/setup.d/50-local-users.sh does), temporary directories the
// recipients can reach, and delivery requests built from message text.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { DeliveryRequest } from '../../src/global/queue/delivery-api.js';
import { getpw, type PasswdEntry } from '../../src/util/passwd.js';
import { HELPER_PATH } from '../../src/daemons/local/mail-writer.js';

export const isRoot = (process.getuid?.() ?? -1) === 0;

/** Why root-only delivery tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (!isRoot) return 'needs root to deliver as other users';
  if (!existsSync(HELPER_PATH)) return `delivery helper not built (${HELPER_PATH}); needs a C compiler`;
  return undefined;
}

/** The named test user, created (useradd -m) when missing. */
export function ensureUser(name: string): PasswdEntry {
  let pw = getpw(name);
  for (let i = 0; !pw && i < 10; i++) {
    try {
      execFileSync('useradd', ['-m', '-s', '/bin/sh', name], { stdio: 'ignore' });
    } catch {
      // another suite may hold the passwd lock, or created the user meanwhile
      execFileSync('sleep', ['0.2']);
    }
    pw = getpw(name);
  }
  if (!pw) throw new Error(`cannot create test user ${name}`);
  return pw;
}

/** A temporary directory every user can traverse (mkdtemp makes it 0700). */
export async function openDir(t: { after: (fn: () => Promise<void>) => void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `postern-${prefix}-`));
  await chmod(dir, 0o755);
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RequestSpec {
  readonly sender?: string;
  readonly recipients: readonly string[];
  readonly original?: readonly string[];
  readonly content: string;
  readonly transport?: string;
  readonly nexthop?: string;
}

let seq = 0;

/** A delivery request whose content is `content` with LF turned into CRLF, as the queue stores it. */
export function request(spec: RequestSpec): DeliveryRequest {
  const content = Buffer.from(spec.content.replace(/\r?\n/g, '\r\n'), 'utf8');
  seq++;
  return {
    queueId: `4TEST${String(seq).padStart(5, '0')}`,
    transport: spec.transport ?? 'local',
    nexthop: spec.nexthop ?? 'localhost',
    sender: spec.sender ?? 'sender@example.org',
    recipients: spec.recipients.map((address, index) => ({
      address,
      original: spec.original?.[index] ?? address,
      index,
    })),
    arrivalTime: Date.UTC(2026, 0, 2, 3, 4, 5),
    size: content.length,
    openContent: async function* () {
      yield await Promise.resolve(content);
    },
  };
}

export const MESSAGE =
  'From: a@example.org\nSubject: test\nMessage-ID: <t1@example.org>\n\nline one\nFrom the start\n.dot line\n';

/** Runs `postern-deliver serve` as `u` on raw input; resolves with its exit status and every response. */
export function serveRaw(
  u: { uid: number; gid: number },
  input: Buffer,
): Promise<{ code: number | null; responses: { status: number; text: string }[] }> {
  return new Promise((resolve) => {
    const child = spawn(HELPER_PATH, ['serve'], { uid: u.uid, gid: u.gid, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      const all = Buffer.concat(out);
      const responses: { status: number; text: string }[] = [];
      for (let off = 0; off + 8 <= all.length;) {
        const n = all.readUInt32BE(off);
        responses.push({ status: all.readUInt32BE(off + 4), text: all.subarray(off + 8, off + 4 + n).toString() });
        off += 4 + n;
      }
      resolve({ code, responses });
    });
    child.stdin.end(input);
  });
}
