// Address-list parsing for sendmail -t: display names, comments, groups,
// quoted local parts and source routes, and a bound on how many are taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressList } from '../../src/daemons/cleanup/address-list.js';
import { tokenLimitCut } from '../../src/global/addr/header-tokens.js';

test('address lists reduce to internal-form addresses', () => {
  assert.deepEqual(parseAddressList('a@example.org'), ['a@example.org']);
  assert.deepEqual(parseAddressList('"Doe, John" <john@example.org>, b@example.org (Bee, B)'), [
    'john@example.org',
    'b@example.org',
  ]);
  assert.deepEqual(parseAddressList('friends: c@x.example, "d e"@y.example;, f'), [
    'c@x.example',
    'd e@y.example',
    'f',
  ]);
  assert.deepEqual(parseAddressList('<@relay.example:g@z.example>'), ['g@z.example']);
  assert.deepEqual(parseAddressList('undisclosed-recipients:;'), []);
  assert.deepEqual(parseAddressList('h@[192.0.2.1], i@example.org'), ['h@[192.0.2.1]', 'i@example.org']);
  assert.deepEqual(parseAddressList(' , ,'), []);
});

test('address lists are bounded', () => {
  const many = Array.from({ length: 500 }, (_, i) => `u${i}@example.org`).join(', ');
  assert.equal(parseAddressList(many, 100).length, 100);
});

test('token limit cut points', () => {
  assert.equal(tokenLimitCut('a@b.c', 10), undefined);
  assert.equal(tokenLimitCut('a@b.c', 5), undefined);
  assert.equal(tokenLimitCut('a@b.c, d@e', 5), 5);
  assert.equal(tokenLimitCut('"x, y" (c) <z@w>', 2), 10);
});
