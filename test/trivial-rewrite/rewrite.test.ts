// Golden cases for trivial-rewrite(8)'s "rewrite" request: canonical address
// forms as ADDRESS_REWRITING_README describes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { tableOpener } from './map-dict.js';

const base = 'myhostname = mail.example.com\nmydomain = example.com\n';

function rewriter(extra = ''): ReturnType<typeof createRewriter> {
  return createRewriter({ config: Config.fromText(base + extra), openDict: tableOpener({}) });
}

test('local context canonicalisation with append_dot_mydomain = yes', () => {
  const r = rewriter('append_dot_mydomain = yes\n');
  const cases: [string, string][] = [
    ['user', 'user@mail.example.com'],
    ['user@host', 'user@host.example.com'],
    ['user@other.org', 'user@other.org'],
    ['host!user', 'user@host.example.com'],
    ['a.org!b!user', 'b!user@a.org'],
    ['user%remote.org', 'user@remote.org'],
    ['@a.org,@b.org:user@site.org', 'user@site.org'],
    ['user@[192.0.2.1]', 'user@[192.0.2.1]'],
    ['', ''],
  ];
  for (const [input, want] of cases) assert.equal(r.rewrite(input), want, `rewrite(${input})`);
});

test('switches: append_at_myorigin, swap_bangpath, allow_percent_hack, append_dot_mydomain off', () => {
  const r = rewriter(
    'append_dot_mydomain = no\nappend_at_myorigin = no\nswap_bangpath = no\nallow_percent_hack = no\n',
  );
  assert.equal(r.rewrite('user'), 'user');
  assert.equal(r.rewrite('user@host'), 'user@host');
  assert.equal(r.rewrite('host!user'), 'host!user');
  assert.equal(r.rewrite('user%remote.org'), 'user%remote.org');
});

test('myorigin is used, not myhostname', () => {
  const r = rewriter('myorigin = $mydomain\nappend_dot_mydomain = no\n');
  assert.equal(r.rewrite('root'), 'root@example.com');
});

test('remote context only appends remote_header_rewrite_domain', () => {
  assert.equal(rewriter().rewrite('user', 'remote'), 'user');
  assert.equal(
    rewriter('remote_header_rewrite_domain = domain.invalid\n').rewrite('user', 'remote'),
    'user@domain.invalid',
  );
});
