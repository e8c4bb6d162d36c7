// Access-policy actions that reach cleanup: HOLD, DISCARD, FILTER, REDIRECT
// and BCC from any stage are handed to commit() (the last FILTER and
// REDIRECT win), PREPEND headers go above our Received: header, and the
// actions of a rejected recipient are dropped with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { content, RawClient, startSmtpd } from './harness.js';
import type { PolicyEffect, PolicyVerdict } from '../../src/daemons/smtpd/policy-api.js';

const ACTIONS: Record<string, PolicyEffect[]> = {
  'held@x.example': [{ kind: 'hold', reason: 'triggers HOLD action' }],
  'f1@x.example': [{ kind: 'filter', transport: 'smtp:[127.0.0.1]:10025' }],
  'f2@x.example': [
    { kind: 'filter', transport: 'scan:[127.0.0.1]:10026' },
    { kind: 'redirect', address: 'quarantine@x.example' },
  ],
  'copy@x.example': [
    { kind: 'bcc', address: 'audit@x.example' },
    { kind: 'prepend', header: 'X-Policy: copied' },
  ],
  'gone@x.example': [{ kind: 'discard', reason: 'triggers DISCARD action' }],
};

function policy(stage: string, rcpt: string | undefined): PolicyVerdict | undefined {
  if (stage !== 'rcpt' || rcpt === undefined) return undefined;
  if (rcpt === 'refused@x.example') {
    return { action: 'reject', reply: { code: 554, dsn: '5.7.1', text: 'no' }, logText: '' };
  }
  const effects = ACTIONS[rcpt];
  return effects ? { action: 'accept-with', effects } : undefined;
}

async function send(port: number, rcpts: string[]): Promise<string> {
  const c = await RawClient.connect(port);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<a@sender.example>');
  for (const r of rcpts) await c.cmd(`RCPT TO:<${r}>`);
  await c.cmd('DATA');
  const r = await c.cmd('Subject: t\r\n\r\nbody\r\n.');
  await c.cmd('QUIT');
  return r;
}

test('HOLD, FILTER (last wins), REDIRECT and BCC reach commit(); PREPEND goes above Received:', async () => {
  const h = await startSmtpd('', { policy: (stage, f) => policy(stage, f.recipient) });
  try {
    assert.match(
      await send(h.port, ['held@x.example', 'f1@x.example', 'f2@x.example', 'copy@x.example']),
      /^250 2\.0\.0 Ok: queued as /,
    );
    const [m] = h.cleanup.committed();
    assert.deepEqual(m?.actions, {
      hold: true,
      filter: 'scan:[127.0.0.1]:10026',
      redirect: 'quarantine@x.example',
      bcc: ['audit@x.example'],
    });
    const text = m ? content(m) : '';
    assert.match(text, /^X-Policy: copied\r\nReceived: from client\.example /);
  } finally {
    await h.close();
  }
});

test('DISCARD reaches commit(); a rejected recipient takes no action along', async () => {
  const h = await startSmtpd('', {
    policy: (stage, f) =>
      f.recipient === 'refused@x.example' && stage === 'rcpt'
        ? { action: 'reject', reply: { code: 554, dsn: '5.7.1', text: 'no' }, logText: '' }
        : policy(stage, f.recipient),
  });
  try {
    await send(h.port, ['gone@x.example']);
    await send(h.port, ['plain@x.example', 'refused@x.example']);
    const [first, second] = h.cleanup.committed();
    assert.deepEqual(first?.actions, { discard: true });
    assert.deepEqual(second?.actions, {});
  } finally {
    await h.close();
  }
});

test('smtpd_delay_reject = no: a MAIL-stage HOLD applies to that transaction only', async () => {
  const h = await startSmtpd('smtpd_delay_reject = no', {
    policy: (stage, f) =>
      stage === 'mail' && f.sender === 'hold@sender.example'
        ? { action: 'accept-with', effects: [{ kind: 'hold', reason: 'x' }] }
        : undefined,
  });
  try {
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO client.example');
    for (const sender of ['hold@sender.example', 'other@sender.example']) {
      await c.cmd(`MAIL FROM:<${sender}>`);
      await c.cmd('RCPT TO:<r@x.example>');
      await c.cmd('DATA');
      assert.match(await c.cmd('Subject: t\r\n\r\nbody\r\n.'), /^250 /);
    }
    await c.cmd('QUIT');
    const [held, other] = h.cleanup.committed();
    assert.deepEqual(held?.actions, { hold: true });
    assert.deepEqual(other?.actions, {});
  } finally {
    await h.close();
  }
});
