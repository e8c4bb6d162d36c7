// A real cleanup(8) for content-check tests: CleanupServer over an on-disk
// segment store in a temp directory, with createContentChecks() reading real
// regexp/pcre table files written for the test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import type { CleanupOpenRequest, CleanupVerdict, ClientInfo } from '../../src/global/queue/cleanup-api.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { createContentChecks } from '../../src/daemons/cleanup/checks/content-checks.js';
import { readAll } from '../queue/helpers.js';

export interface Harness {
  readonly dir: string;
  readonly store: SegmentStore;
  readonly log: MemoryLogger;
  submit(
    content: string,
    opts?: { req?: Partial<CleanupOpenRequest>; rcpts?: string[]; local?: boolean },
  ): Promise<CleanupVerdict>;
  stored(id: string): Promise<string>;
  /** Close the store (unless the test already did) and remove the directory. */
  done(closeStore?: boolean): Promise<void>;
}

export const client: ClientInfo = {
  name: 'client.example',
  reverseName: 'client.example',
  addr: '192.0.2.7',
  port: 4025,
  helo: 'helo.example',
  protocol: 'ESMTP',
};

/**
 * `tables` maps a file name to its text; `mainCf` may name them as
 * `regexp:$DIR/name` (the placeholder is replaced with the temp directory).
 */
export async function harness(mainCf: string, tables: Record<string, string> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-checks-'));
  for (const [name, text] of Object.entries(tables)) await writeFile(join(dir, name), text);
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: join(dir, 'queue'), logger: log });
  const config = Config.fromText(
    `myhostname = mx.example.net\nmydomain = example.net\n${mainCf.replaceAll('$DIR', dir)}`,
  );
  const checks = await createContentChecks({ config, logger: log });
  const server = new CleanupServer({ store, config, logger: log, checks });
  return {
    dir,
    store,
    log,
    async submit(content, opts = {}) {
      const tx = await server.open({
        origin: 'smtpd',
        sender: 'alice@example.com',
        ...(opts.local ? {} : { client }),
        ...opts.req,
      });
      for (const r of opts.rcpts ?? ['bob@example.org']) tx.addRecipient({ address: r });
      tx.write(Buffer.from(content.replace(/\r?\n/g, '\r\n')));
      return tx.commit();
    },
    async stored(id) {
      return (await readAll(store.openContent(id))).toString('utf8').replace(/\r\n/g, '\n');
    },
    async done(closeStore = true) {
      if (closeStore) await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function queued(v: CleanupVerdict): string {
  assert.equal(v.status, 'queued', JSON.stringify(v));
  return v.status === 'queued' ? v.queueId : '';
}

/** The log lines after `QUEUEID: ` for one message. */
export function linesFor(log: MemoryLogger, id: string): string[] {
  return log
    .texts()
    .filter((l) => l.startsWith(`${id}: `))
    .map((l) => l.slice(id.length + 2));
}
