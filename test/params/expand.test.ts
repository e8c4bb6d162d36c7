// Expansion rules of postconf(5): lazy names, conditionals, comparisons, recursion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expand, ExpansionError } from '../../src/global/params/expand.js';

const table: Record<string, string> = {
  a: 'A',
  b: '$a-b',
  empty: '',
  loop1: '$loop2',
  loop2: '${loop1}',
  compatibility_level: '3.6',
};
const lookup = (n: string): string | undefined => table[n];

test('plain and braced names', () => {
  assert.equal(expand('x $a ${a} $(a) $b', lookup), 'x A A A A-b');
});

test('conditional forms', () => {
  assert.equal(expand('${a?yes}|${empty?yes}|${a:no}|${empty:no}', lookup), 'yes|||no');
  assert.equal(expand('${a ? {yes} : {no}}', lookup), 'yes', 'whitespace around ? and :');
  assert.equal(expand('${a?{set}:{unset}} ${empty?{set}:{unset}}', lookup), 'set unset');
});

test('comparison form against compatibility_level', () => {
  assert.equal(expand('${{$compatibility_level} <level {2} ? {subnet} : {host}}', lookup), 'host');
  assert.equal(expand('${{$compatibility_level} <level {3.7} ? {old} : {new}}', lookup), 'old');
});

test('recursion is reported, not looped', () => {
  assert.throws(() => expand('$loop1', lookup), ExpansionError);
});

test('nested two-branch conditionals', () => {
  const t: Record<string, string> = { set: 'S', empty: '', stress: '' };
  const lk = (n: string): string | undefined => t[n];
  assert.equal(expand('${set?{$set}:{${stress?{yes}:{no}}}}', lk), 'S');
  assert.equal(expand('${empty?{$set}:{${stress?{yes}:{no}}}}', lk), 'no');
});

test('a bare $ followed by no name is an error, $$ is a dollar', () => {
  assert.equal(expand('a$$b', lookup), 'a$b');
  assert.throws(() => expand('a $ b', lookup), /empty macro name/);
});

test('recursion names the parameter the way Postfix does', () => {
  assert.throws(() => expand('$loop1', lookup, ['start']), /nesting: "loop2"/);
  assert.throws(() => expand('$loop2', lookup, ['loop1']), /nesting: "loop1"/);
});

test('comparisons: integers numerically, anything else as text, operands as written', () => {
  assert.equal(expand('${{2} <= {10} ? {yes} : {no}}', lookup), 'yes');
  assert.equal(expand('${{ 10 } < { 9 } ? {lt} : {ge}}', lookup), 'lt');
  assert.equal(expand('${{abc}=={abc}?{x}:{y}}', lookup), 'x');
  assert.equal(expand('${{abc} != {abd} ? {ne}}', lookup), 'ne');
  assert.equal(expand('${{3.7.11} >=level {3.7} ? {modern} : {old}}', lookup), 'modern');
});

test('deeply shared references expand once per name, not exponentially', () => {
  const t: Record<string, string> = { v0: 'x' };
  for (let i = 1; i <= 40; i++) t[`v${i}`] = `$v${i - 1}$v${i - 1}`;
  let lookups = 0;
  const lk = (n: string): string | undefined => {
    lookups++;
    return t[n];
  };
  assert.equal(expand('$v20', lk).length, 2 ** 20);
  assert.ok(lookups <= 21, `${lookups} lookups`);
  assert.throws(() => expand('$v40', lk), /too long/);
});
