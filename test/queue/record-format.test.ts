// The record encoders write exactly the framing docs/ARCHITECTURE.md
// describes (magic, length, CRC-32 over length and payload, then type and
// JSON, for MESSAGE a JSON length and the raw content), whichever way they
// assemble it: segments written before and after stay readable by the same
// decoder. The reference below frames records the plain way, from the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import {
  RECORD_MAGIC,
  RecordType,
  checkFrame,
  decodeRecord,
  encodeDelete,
  encodeMessage,
  encodeOutcomes,
  encodeState,
  type EnvelopeImage,
} from '../../src/global/queue/record-format.js';

function reference(type: RecordType, meta: Buffer, content: Buffer = Buffer.alloc(0)): Buffer {
  const payload = Buffer.concat([Buffer.from([type]), meta, content]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(payload.length);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(RECORD_MAGIC, 0);
  len.copy(head, 4);
  head.writeUInt32BE(crc32(payload, crc32(len)), 8);
  return Buffer.concat([head, payload]);
}

function messageMeta(env: EnvelopeImage): Buffer {
  const json = Buffer.from(JSON.stringify(env), 'utf8');
  const n = Buffer.alloc(4);
  n.writeUInt32BE(json.length);
  return Buffer.concat([n, json]);
}

const env: EnvelopeImage = {
  id: 'ABC123',
  state: 'incoming',
  arrivalTime: 1_764_000_000_000,
  sender: 'sënder@example.org',
  recipients: [{ address: 'a@example.com', original: 'A@example.com', notify: ['FAILURE', 'DELAY'] }],
  client: { name: 'mx.example', addr: '192.0.2.1', helo: 'mx', port: 25, protocol: 'ESMTP' },
};

test('state, outcome and delete records have the specified bytes and decode back', () => {
  const cases: [Buffer[], RecordType, object][] = [
    [
      encodeState({ id: 'ABC123', state: 'deferred', nextAttempt: 5 }),
      RecordType.State,
      { id: 'ABC123', state: 'deferred', nextAttempt: 5 },
    ],
    [
      encodeOutcomes('ABC123', [{ index: 0, status: 'bounced', dsn: '5.1.1', reason: 'ünknown user' }]),
      RecordType.Outcomes,
      { id: 'ABC123', outcomes: [{ index: 0, status: 'bounced', dsn: '5.1.1', reason: 'ünknown user' }] },
    ],
    [encodeDelete('ABC123'), RecordType.Delete, { id: 'ABC123' }],
  ];
  for (const [bufs, type, meta] of cases) {
    const bytes = Buffer.concat(bufs);
    assert.deepEqual(bytes, reference(type, Buffer.from(JSON.stringify(meta), 'utf8')));
    const f = checkFrame(bytes, 0);
    assert.ok(f.ok);
    const rec = decodeRecord(bytes, f.payloadStart, f.end);
    assert.equal(typeof rec, 'object');
    assert.equal((rec as { type: RecordType }).type, type);
  }
});

test('message records are the same bytes whether the content is copied in or written from its pieces', () => {
  for (const size of [0, 1, 700, 8192, 8193, 70_000]) {
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = 0x41 + (i % 26);
    const pieces = [Buffer.from('Subject: t\r\n'), Buffer.from('\r\n'), body];
    const content = Buffer.concat(pieces);
    const rec = encodeMessage(env, pieces);
    const bytes = Buffer.concat(rec.buffers);
    assert.deepEqual(bytes, reference(RecordType.Message, messageMeta(env), content), `size ${size}`);
    assert.deepEqual(bytes.subarray(rec.contentStart), content);
    if (rec.inline) assert.deepEqual(rec.inline, content);
    const f = checkFrame(bytes, 0);
    assert.ok(f.ok);
    const dec = decodeRecord(bytes, f.payloadStart, f.end);
    assert.ok(typeof dec === 'object' && dec.type === RecordType.Message);
    assert.equal(dec.contentStart, rec.contentStart);
    assert.equal(dec.contentLength, content.length);
    assert.deepEqual(dec.envelope, env);
  }
});

test('a copied-in message does not change when the caller reuses its buffers', () => {
  const piece = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const rec = encodeMessage(env, [piece]);
  const before = Buffer.concat(rec.buffers);
  piece.fill(0x21);
  assert.deepEqual(Buffer.concat(rec.buffers), before);
  assert.ok(checkFrame(before, 0).ok);
});
