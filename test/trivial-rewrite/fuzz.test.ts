// Untrusted addresses reach trivial-rewrite from every SMTP client: random
// and hostile inputs must give an answer (never a throw or a hang), and the
// answer must be stable when fed back in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { tableOpener } from './map-dict.js';

/** Small deterministic PRNG so a failure reproduces. */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const ALPHABET = ['a', 'b', 'Z', '0', '.', '@', '%', '!', ':', ',', '[', ']', '"', '+', '-', ' ', '\u00e9', '..', '@@'];

test('random addresses always resolve, and rewriting is idempotent', async () => {
  const config = Config.fromText(
    'compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\nappend_dot_mydomain = yes\n' +
      'relay_domains = example.org\nrecipient_delimiter = +\n',
  );
  const r = createRewriter({ config, openDict: tableOpener({}), interfaceAddresses: new Set(['127.0.0.1']) });
  const rnd = prng(20260115);
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rnd() * 24);
    let addr = '';
    for (let j = 0; j < len; j++) addr += ALPHABET[Math.floor(rnd() * ALPHABET.length)] ?? '';
    const once = r.rewrite(addr);
    assert.equal(typeof once, 'string');
    const res = await r.resolve(addr, 's@example.com');
    assert.ok(res.transport.length > 0, `transport for ${JSON.stringify(addr)}`);
    assert.ok(res.nexthop.length > 0 || res.flags.error, `nexthop for ${JSON.stringify(addr)}`);
    // A canonical address with a domain is a fixed point of rewriting.
    if (once.includes('@') && !once.startsWith('@')) assert.equal(r.rewrite(once), once, JSON.stringify(addr));
  }
  // Deep routing cannot loop: the local-domain stripping is bounded.
  const deep = Array.from({ length: 500 }, (_, i) => `h${i}`).join('%') + '@mail.example.com';
  const res = await r.resolve(deep, '');
  assert.ok(res.recipient.length > 0);
});
