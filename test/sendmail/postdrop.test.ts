// postdrop(1): a maildrop file on standard input is checked and stored under
// a new queue ID; anything else is refused with EX_DATAERR and a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listMaildrop, readMaildrop } from '../../src/global/queue/maildrop.js';
import { runTool, tempInstall } from './tools-harness.js';

test('postdrop stores a maildrop file from stdin and refuses garbage', async () => {
  const a = await tempInstall();
  const b = await tempInstall();
  try {
    await runTool(a, 'sendmail', ['-f', 'x@example.com', 'y@example.org'], 'Subject: p\n\nbody\n');
    const [id] = await listMaildrop(a.queueDir);
    const file = await readFile(join(a.queueDir, 'maildrop', id ?? ''));
    const r = await runTool(b, 'postdrop', [], file);
    assert.equal(r.status, 0, r.stderr);
    const [copy] = await listMaildrop(b.queueDir);
    const m = await readMaildrop(b.queueDir, copy ?? '');
    assert.equal(m.envelope.sender, 'x@example.com');
    assert.deepEqual(m.envelope.recipients, ['y@example.org']);
    assert.equal(m.content.toString(), 'Subject: p\r\n\r\nbody\r\n');
    const bad = await runTool(b, 'postdrop', [], 'Subject: not a queue file\n');
    assert.equal(bad.status, 65);
    assert.equal(bad.stderr, 'postdrop: fatal: malformed input: not a maildrop file\n');
    // A flipped content byte breaks the checksum.
    const broken = Buffer.from(file);
    broken.writeUInt8((broken.at(-3) ?? 0) ^ 1, broken.length - 3);
    assert.equal((await runTool(b, 'postdrop', [], broken)).status, 65);
    assert.equal((await listMaildrop(b.queueDir)).length, 1);
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});
