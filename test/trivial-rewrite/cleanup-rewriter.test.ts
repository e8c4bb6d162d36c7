// canonical(5), masquerade_domains and virtual(5) expansion as cleanup(8)
// applies them to envelope addresses, with Map-backed tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { CleanupRewriter } from '../../src/daemons/trivial-rewrite/cleanup-rewriter.js';
import type { Dict } from '../../src/global/dict/dict-api.js';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { mapDict, tableOpener } from './map-dict.js';

const base =
  'compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\nmyorigin = $mydomain\n' +
  'mydestination = $myhostname, $mydomain, localhost\nrecipient_delimiter = +\n';

function make(extra: string, tables: Record<string, Record<string, string>>, failing?: string): CleanupRewriter {
  const dicts: Record<string, Dict> = {};
  for (const [spec, entries] of Object.entries(tables)) dicts[spec] = mapDict(spec, entries, spec === failing);
  const config = Config.fromText(base + extra);
  const openDict = tableOpener(dicts);
  return new CleanupRewriter(config, openDict, createRewriter({ config, openDict, interfaceAddresses: new Set() }));
}

test('canonical maps: sender-specific first, then common; key order and extensions', async () => {
  const r = make('sender_canonical_maps = hash:/sc\ncanonical_maps = hash:/c\n', {
    'hash:/sc': { 'joe@example.com': 'joseph' },
    'hash:/c': {
      joseph: 'joseph.smith@example.com',
      'ann@example.com': 'ann.lee@example.com',
      '@old.example': '@example.com',
      'root@example.com': 'root@example.com',
    },
  });
  assert.equal(await r.sender('joe'), 'joseph.smith@example.com');
  assert.equal(await r.sender('ann+news@example.com'), 'ann.lee+news@example.com');
  assert.equal(await r.sender('bob@old.example'), 'bob@example.com');
  assert.equal(await r.sender('bob+x@old.example'), 'bob+x@example.com');
  assert.equal(await r.sender('root'), 'root@example.com');
  assert.equal(await r.sender(''), '');
  assert.deepEqual(await r.recipient('ann'), ['ann.lee@example.com']);
});

test('masquerade_domains strips subdomains for senders, with exceptions', async () => {
  const r = make('masquerade_domains = !keep.example.com, example.com\nmasquerade_exceptions = root\n', {});
  assert.equal(await r.sender('u@host.sub.example.com'), 'u@example.com');
  assert.equal(await r.sender('u@a.keep.example.com'), 'u@a.keep.example.com');
  assert.equal(await r.sender('root@host.example.com'), 'root@host.example.com');
  // masquerade_classes does not include envelope_recipient by default.
  assert.deepEqual(await r.recipient('u@host.example.com'), ['u@host.example.com']);
});

test('virtual aliases expand recursively, dedupe, keep self references and propagate extensions', async () => {
  const r = make('virtual_alias_maps = hash:/v\n', {
    'hash:/v': {
      'sales@example.com': 'ann, bob@example.net, team@example.com',
      'team@example.com': 'bob@example.net, carol@example.org',
      'carol@example.org': 'carol@example.org, archive@example.org',
      '@virt.test': 'catchall@example.com',
      '@alias.test': '@example.net',
      'loop1@example.com': 'loop2@example.com',
      'loop2@example.com': 'loop1@example.com',
    },
  });
  assert.deepEqual(await r.recipient('sales'), [
    'ann@example.com',
    'bob@example.net',
    'carol@example.org',
    'archive@example.org',
  ]);
  assert.deepEqual(await r.recipient('x+tag@virt.test'), ['catchall+tag@example.com']);
  assert.deepEqual(await r.recipient('nobody@else.test'), ['nobody@else.test']);
  assert.deepEqual(await r.recipient('pat+x@alias.test'), ['pat+x@example.net']);
  assert.deepEqual(await r.recipient('loop1@example.com'), ['loop1@example.com']);
});

test('virtual_alias_expansion_limit is enforced and table failures propagate', async () => {
  const many: Record<string, string> = {
    'big@example.com': Array.from({ length: 20 }, (_, i) => `u${i}@x.test`).join(', '),
  };
  const r = make('virtual_alias_maps = hash:/v\nvirtual_alias_expansion_limit = 5\n', { 'hash:/v': many });
  await assert.rejects(r.recipient('big@example.com'), /expansion size/);
  const f = make('virtual_alias_maps = hash:/v\n', { 'hash:/v': {} }, 'hash:/v');
  await assert.rejects(f.recipient('a@example.com'), DictRetryError);
});
