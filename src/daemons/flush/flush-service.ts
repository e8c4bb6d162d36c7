// flush(8) as a Postern service: the running mail system's end of the queue
// control channel (control-protocol.ts). public/flush takes flush requests
// from anyone (postqueue -f/-s/-i, sendmail -q; authorized_flush_users is
// checked by the client, as Postfix's postqueue does); private/postsuper takes
// postsuper's hold/release/delete/requeue and is reachable only by
// mail_owner and root (private/ is mode 0700). Both act on the live queue
// store through the service directory, so changes go through its lock and
// group commit like every other queue update.
//
// Touches: $queue_directory/public/flush, $queue_directory/private/postsuper.
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../global/log/logger.js';
import { QUEUE_FLUSHER, QUEUE_STORE } from '../../global/queue/service-keys.js';
import type { ServiceDirectory } from '../../global/service/directory.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { applySuper } from '../../commands/postsuper/queue-ops.js';
import { readMaildropSnapshot, showqOrder, type QueueEntry } from '../../commands/postqueue/queue-snapshot.js';
import { toShowq } from '../../commands/postqueue/showq-format.js';

import {
  decodeRequest,
  FLUSH_SOCKET,
  MAX_REQUEST,
  SUPER_SOCKET,
  type ControlAnswer,
  type ControlRequest,
} from './control-protocol.js';

const REQUEST_TIMEOUT_MS = 30_000;

export interface ControlServerOptions {
  readonly queueDirectory: string;
  readonly directory: ServiceDirectory;
  readonly logger: Logger;
}

async function execute(o: ControlServerOptions, req: ControlRequest, privileged: boolean): Promise<ControlAnswer> {
  const store = o.directory.get(QUEUE_STORE);
  if (req.op === 'showq') {
    if (!store) return { ok: false, error: 'the queue store is not open' };
    const stored = [...store.list()].map((message) => ({
      kind: 'store' as const,
      message,
      segment: 0,
      contentOffset: 0,
    }));
    const entries: QueueEntry[] = [...(await readMaildropSnapshot(o.queueDirectory)), ...showqOrder(stored)];
    // The null sender stays '' here; the client shows it as its empty_address_recipient.
    const lines = entries.map((e) => JSON.stringify(toShowq(e, '')));
    return { ok: true, lines, count: lines.length };
  }
  if (req.op === 'flush') {
    const flusher = o.directory.get(QUEUE_FLUSHER);
    if (!flusher) return { ok: false, error: 'the queue manager is not running' };
    if (req.queueId !== undefined) {
      const m = store?.get(req.queueId);
      if (!store || !m) return { ok: false, error: `${req.queueId}: no such message` };
      if (m.state === 'deferred') await store.setState(req.queueId, 'deferred', { nextAttempt: Date.now() });
      flusher.flush();
      return { ok: true, lines: [], count: 1 };
    }
    flusher.flush(req.site);
    return { ok: true, lines: [], count: 0 };
  }
  if (!privileged) return { ok: false, error: 'permission denied' };
  if (!store) return { ok: false, error: 'the queue store is not open' };
  const r = await applySuper(store, o.queueDirectory, req);
  for (const line of r.lines) o.logger.info(line);
  return { ok: true, lines: r.lines, count: r.count };
}

function serve(o: ControlServerOptions, sock: Socket, privileged: boolean): void {
  let buf = '';
  let handled = false;
  sock.setTimeout(REQUEST_TIMEOUT_MS, () => sock.destroy());
  sock.on('error', () => undefined);
  const answer = (a: ControlAnswer): void => void sock.end(`${JSON.stringify(a)}\n`);
  sock.on('data', (d: Buffer) => {
    if (handled) return;
    buf += d.toString('utf8');
    if (buf.length > MAX_REQUEST) {
      handled = true;
      answer({ ok: false, error: 'request too long' });
      return;
    }
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    handled = true;
    const req = decodeRequest(buf.slice(0, nl));
    if (!req) {
      o.logger.warning('queue control: malformed request');
      answer({ ok: false, error: 'malformed request' });
      return;
    }
    execute(o, req, privileged).then(answer, (err: unknown) => {
      o.logger.warning(`queue control: ${(err as Error).message}`);
      answer({ ok: false, error: (err as Error).message });
    });
  });
}

async function listen(path: string, mode: number, onConn: (s: Socket) => void): Promise<Server> {
  // A socket file left by a previous run refuses connections; replace it.
  await unlink(path).catch(() => undefined);
  const server = createServer({ allowHalfOpen: true }, onConn);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, mode);
  return server;
}

/** Start both control sockets; used by the service module and by tests. */
export async function startControlServer(o: ControlServerOptions): Promise<{ close(): Promise<void> }> {
  await mkdir(join(o.queueDirectory, 'public'), { recursive: true, mode: 0o755 });
  await mkdir(join(o.queueDirectory, 'private'), { recursive: true, mode: 0o700 });
  const flushPath = join(o.queueDirectory, FLUSH_SOCKET);
  const superPath = join(o.queueDirectory, SUPER_SOCKET);
  const servers = [
    await listen(flushPath, 0o666, (s) => serve(o, s, false)),
    await listen(superPath, 0o600, (s) => serve(o, s, true)),
  ];
  return {
    async close() {
      for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
      await unlink(flushPath).catch(() => undefined);
      await unlink(superPath).catch(() => undefined);
    },
  };
}

/** master.cf: `flush unix n - n 1000? 0 flush`. */
export const flushService: ServiceModule = {
  async start(ctx: ServiceContext): Promise<RunningService> {
    const control = await startControlServer({
      queueDirectory: ctx.config.get('queue_directory'),
      directory: ctx.directory,
      logger: ctx.logger,
    });
    return { stop: () => control.close() };
  },
};

export default flushService;
