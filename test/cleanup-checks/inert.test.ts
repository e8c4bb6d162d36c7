// With no header/body tables and no MIME checks configured, cleanup skips the
// inspection pass (CleanupContentChecks.inert): what it stores must be
// exactly what the full pass would have stored, and any configured table or
// MIME check must turn the shortcut off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createContentChecks } from '../../src/daemons/cleanup/checks/content-checks.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { readAll } from '../queue/helpers.js';
import { client, queued } from './harness.js';

const MESSAGES = [
  'From: a@example.com\nTo: b@example.org\nSubject: plain\n\nline 1\n.line 2\n',
  'Subject: no separator\nnot a header line\nbody\n',
  'Subject: headers only\n',
  'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nhi\n--XX--\n',
];

async function storedWith(forceFullPass: boolean): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-inert-'));
  const log = new MemoryLogger('postfix/cleanup');
  const store = await SegmentStore.open({ queueDirectory: join(dir, 'queue'), logger: log });
  try {
    const config = Config.fromText('myhostname = mx.example.net\nmydomain = example.net\n');
    const checks = await createContentChecks({ config, logger: log });
    assert.equal(checks.inert?.(false), true);
    // The shortcut refused: inspect() walks every message.
    if (forceFullPass) checks.inert = () => false;
    const server = new CleanupServer({ store, config, logger: log, checks });
    const out: string[] = [];
    for (const m of MESSAGES) {
      const tx = await server.open({ origin: 'smtpd', sender: 'alice@example.com', client });
      tx.addRecipient({ address: 'bob@example.org' });
      tx.write(Buffer.from(m.replace(/\n/g, '\r\n')));
      const id = queued(await tx.commit());
      out.push((await readAll(store.openContent(id))).toString('latin1'));
    }
    return out;
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('inert content checks: nothing configured is inert, any table or MIME check is not', async () => {
  const log = new MemoryLogger();
  const inert = async (text: string, skip = false): Promise<boolean | undefined> =>
    (await createContentChecks({ config: Config.fromText(text), logger: log })).inert?.(skip);
  assert.equal(await inert(''), true);
  assert.equal(await inert('header_checks = static:DUNNO\n'), false);
  assert.equal(await inert('header_checks = static:DUNNO\n', true), true);
  assert.equal(await inert('body_checks = static:DUNNO\n'), false);
  assert.equal(await inert('mime_header_checks = static:DUNNO\n'), false);
  assert.equal(await inert('strict_mime_encoding_domain = yes\n'), false);
});

test('a message stored past the skipped pass is byte for byte what the full pass stores', async () => {
  const quick = await storedWith(false);
  const full = await storedWith(true);
  assert.deepEqual(quick, full);
  assert.match(quick[0] ?? '', /^From: a@example.com\r\nTo: b@example.org\r\nSubject: plain\r\n/);
});
