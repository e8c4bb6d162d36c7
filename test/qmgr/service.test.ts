// The core-process wiring with the system clock: a message committed to the
// store is delivered by an agent passed in by name, and a recipient for an
// `error:` transport bounces through the built-in error agent into cleanup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { startQueueManager } from '../../src/daemons/qmgr/service.js';
import { CapturingCleanup, ScriptedAgent } from './fakes.js';
import { MemoryStore } from './memory-store.js';
import { mapDict, tableOpener } from '../trivial-rewrite/map-dict.js';
import { BASE_CF } from './harness.js';

test('startQueueManager delivers through given agents and bounces through the built-in error agent', async () => {
  const config = Config.fromText(BASE_CF + 'transport_maps = hash:/t\n');
  const store = new MemoryStore(() => Date.now());
  const cleanup = new CapturingCleanup();
  const logger = new MemoryLogger('postfix/master');
  const smtp = new ScriptedAgent('smtp');
  const { qmgr } = await startQueueManager({
    config,
    store,
    cleanup,
    logger,
    openDict: tableOpener({ 'hash:/t': mapDict('hash:/t', { 'closed.test': 'error:5.7.1 closed for business' }) }),
    agents: new Map([['smtp', smtp]]),
  });
  try {
    const id = store.add({ sender: 'a@example.com', recipients: ['x@remote.org', 'y@closed.test'] });
    await qmgr.whenIdle();
    assert.equal(smtp.requests.length, 1);
    assert.equal(store.messages.size, 0);
    const tags = new Set(logger.lines.map((l) => l.tag));
    assert.deepEqual([...tags].sort(), ['postfix/bounce', 'postfix/error', 'postfix/qmgr', 'postfix/smtp']);
    assert.equal(cleanup.injected.length, 1);
    assert.match(cleanup.injected[0]?.content ?? '', /<y@closed\.test>: closed for business/);
    assert.ok(logger.lines.some((l) => l.tag === 'postfix/qmgr' && l.text === `${id}: removed`));
  } finally {
    await qmgr.stop();
  }
});
