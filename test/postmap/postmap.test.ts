// postmap(1) end to end: builds, queries, lists, deletes and updates, and the
// same queries answered by Debian's real postmap on the same source files
// (skipped with a reason when /usr/sbin/postmap is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/commands/postmap/main.js';
import { closeAllDicts } from '../../src/global/dict/open.js';
import { execFileSync } from 'node:child_process';
import { hasReal, REAL_POSTMAP, runMain, runReal, tempDir } from '../dict/helpers.js';

function realPostconfTypes(): string[] {
  try {
    return execFileSync('/usr/sbin/postconf', ['-m'], { encoding: 'utf8' }).split('\n');
  } catch {
    return [];
  }
}

const SOURCE = 'Foo bar\nfoo baz\n# comment\nkey2   multi word \n value\nnovalue\nUPPER Value Kept\n';

async function setup(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'main.cf'), 'default_database_type = hash\n');
  await writeFile(join(dir, 'map'), SOURCE);
  return dir;
}

test('postmap builds hash by default and answers -q with Postfix exit codes', async (t) => {
  const dir = await setup(t);
  t.after(closeAllDicts);
  const map = join(dir, 'map');
  const b = await runMain(main, 'postmap', ['-c', dir, map]);
  assert.equal(b.code, 0);
  assert.equal(
    b.err,
    `postmap: warning: ${map}.db: duplicate entry: "foo"\n` +
      `postmap: warning: ${map}, line 6: expected format: key whitespace value\n`,
  );
  const q = await runMain(main, 'postmap', ['-c', dir, '-q', 'FOO', `hash:${map}`]);
  assert.deepEqual([q.code, q.out], [0, 'bar\n']);
  const miss = await runMain(main, 'postmap', ['-c', dir, '-q', 'nothing', map]);
  assert.deepEqual([miss.code, miss.out], [1, '']);
  const multi = await runMain(main, 'postmap', ['-c', dir, '-q', '-', map], 'foo\nnone\nKEY2\n');
  assert.deepEqual([multi.code, multi.out], [0, 'foo\tbar\nKEY2\tmulti word  value\n']);
  const s = await runMain(main, 'postmap', ['-c', dir, '-s', map]);
  assert.equal(s.out, 'foo\tbar\nkey2\tmulti word  value\nupper\tValue Kept\n');
});

test('postmap -d, -i, -r, -w, -f', async (t) => {
  const dir = await setup(t);
  t.after(closeAllDicts);
  const map = join(dir, 'map');
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-w', `lmdb:${map}`])).err.includes('duplicate'), false);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-d', 'FOO', `lmdb:${map}`])).code, 0);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-d', 'foo', `lmdb:${map}`])).code, 1);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-i', `lmdb:${map}`], 'New Value here\n')).code, 0);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-q', 'new', `lmdb:${map}`])).out, 'Value here\n');
  await runMain(main, 'postmap', ['-c', dir, '-r', `lmdb:${map}`]);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-q', 'foo', `lmdb:${map}`])).out, 'baz\n');
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-q', 'new', `lmdb:${map}`])).code, 1);
  await runMain(main, 'postmap', ['-c', dir, '-f', `cdb:${map}`]);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-f', '-q', 'UPPER', `cdb:${map}`])).out, 'Value Kept\n');
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-f', '-q', 'upper', `cdb:${map}`])).code, 1);
});

test('postmap errors name the file and exit 1', async (t) => {
  const dir = await setup(t);
  const r = await runMain(main, 'postmap', ['-c', dir, '-q', 'x', `hash:${join(dir, 'absent')}`]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `postmap: fatal: open database ${join(dir, 'absent')}.db: No such file or directory\n`);
  const b = await runMain(main, 'postmap', ['-c', dir, `texthash:${join(dir, 'map')}`]);
  assert.equal(b.code, 1);
  assert.match(b.err, /texthash does not support bulk-mode creation/);
  const u = await runMain(main, 'postmap', ['-Z']);
  assert.equal(u.code, 1);
  assert.match(u.err, /invalid option/);
});

// Golden comparisons: the same files and keys through both implementations.
const GOLDEN: { name: string; file?: string; text?: string; type: string; keys: string[]; needs?: string }[] = [
  {
    name: 'texthash',
    file: 'map',
    text: SOURCE,
    type: 'texthash',
    keys: ['foo', 'FOO', 'key2', 'novalue', 'upper', 'x'],
  },
  {
    name: 'regexp',
    file: 're',
    text: '/^(\\S+)@example\\.com$/ user=$1\nif /^x/\n/y$/ X-Y\nendif\n/^Case$/i exact\n!/@/ no-at\n/^[[:digit:]]+$/ digits\n/(a)(b)/ $3\n',
    type: 'regexp',
    keys: ['Joe@Example.com', 'xy', 'zy', 'case', 'Case', 'a@b', '12345', 'ab@x'],
  },
  {
    name: 'cidr',
    file: 'cidr',
    text: '192.168.0.0/16 LAN\n10.1.2.3 ONE\n2001:db8::/32 DOC6\n!127.0.0.0/8 NOTLOOP\n10.0.0.1/8 BAD\n',
    type: 'cidr',
    keys: ['192.168.1.1', '10.1.2.3', '2001:db8::1', '127.0.0.1', '8.8.8.8', 'name', '10.9.9.9'],
  },
  {
    name: 'pcre',
    file: 'pcre',
    text: '/^(\\S+)@(example)\\.com$/ user=$1 dom=${2}\nif !/^skip/\n/^ a \\s+ b $/x EXT\nendif\n/^MiXeD$/i exact\n/\\bword\\b/ W\n/(?<n>x)(y)/ named\n',
    type: 'pcre',
    keys: ['Joe@Example.com', 'ab', 'a b', 'skipab', 'mixed', 'MiXeD', 'a word here', 'xy', 'none'],
    needs: 'pcre',
  },
  {
    name: 'regexp edge cases',
    file: 're2',
    text: '/^a{2,}$/\tTWO\n#/x/ comment\n/^(foo|bar)baz$/\tFB $1\n/[[:upper:]]+X/ UPPERX\n/^q\\/slash$/ SLASH\n/^(x)?y$/ opt:$1:\n/^dollar$/ $$5\n/^nores$/\n/^Z/m multi\n/^tab$/\t  spaced result  \n',
    type: 'regexp',
    keys: ['aaa', 'a', 'foobaz', 'BARBAZ', 'ABX', 'q/slash', 'y', 'xy', 'dollar', 'nores', 'zed', 'tab'],
  },
  {
    name: 'cidr edge cases',
    file: 'ci2',
    text: '1.2.3.0/24 A\n::ffff:1.2.3.4 MAPPED\n2001:db8:0:0:0:0:0:1/128 FULL\n0.0.0.0/0 ALL4\n::/0 ALL6\nif 5.0.0.0/8\n5.5.0.0/16 FIVE\nendif\n300.1.1.1 BAD\n',
    type: 'cidr',
    keys: [
      '1.2.3.4',
      '::ffff:1.2.3.4',
      '2001:db8::1',
      '9.9.9.9',
      '::2',
      '5.5.1.1',
      '5.6.1.1',
      '1.2.3',
      '01.2.3.4',
      '[1.2.3.4]',
    ],
  },
  {
    name: 'regexp basic (x flag off: POSIX BRE with GNU extensions)',
    file: 'bre',
    text: [
      '/^a\\(b*\\)c$/x G1:$1',
      '/^x+y$/x LITPLUS',
      '/^p\\+q$/x GNUPLUS',
      '/^(lit)$/x PARENS',
      '/^d\\{2,3\\}$/x INTERVAL',
      '/^\\(ab\\)\\1$/x BACKREF',
      '/a^b/x CARET',
      '/^*star$/x STAR',
      '/^e|f$/x BAR',
      '/^g\\|h$/x GNUBAR',
      '/^[\\.]z$/x BRACKBS',
      '/^w\\?v$/x GNUQ',
      '/^\\<word\\>$/x WORD',
      '/^r{1}$/x BRACE',
      '/^c$d$/x DOLLAR',
      '/^[[:digit:]]\\{3\\}-[^]a]$/x CLASS',
    ].join('\n'),
    type: 'regexp',
    keys: [
      'abbc',
      'ac',
      'x+y',
      'xxy',
      'pq',
      'ppq',
      '(lit)',
      'lit',
      'dd',
      'dddd',
      'abab',
      'abcd',
      'a^b',
      '*star',
      'star',
      'e|f',
      'e',
      'gg',
      'h',
      '\\z',
      '.z',
      'wv',
      'v',
      'word',
      'r{1}',
      'r',
      'c$d',
      '123-b',
      '123-]',
      '12-b',
    ],
  },
  { name: 'inline', type: 'inline:{ Key=value, { k2 = text with spaces } }', keys: ['key', 'K2', 'none'] },
  { name: 'static', type: 'static:{ some value }', keys: ['any'] },
];

// The real postmap's pcre support is the separate postfix-pcre package.
const realTypes = hasReal(REAL_POSTMAP) ? realPostconfTypes() : [];

for (const g of GOLDEN) {
  const skip = !hasReal(REAL_POSTMAP)
    ? 'no /usr/sbin/postmap'
    : g.needs && !realTypes.includes(g.needs)
      ? `real postmap lacks ${g.needs} (apt-get install postfix-pcre)`
      : false;
  test(`golden: ${g.name} lookups match the real postmap`, { skip }, async (t) => {
    const dir = await setup(t);
    let spec = g.type;
    if (g.file) {
      await writeFile(join(dir, g.file), g.text ?? '');
      spec = `${g.type}:${g.file}`;
    }
    const prev = process.cwd();
    process.chdir(dir);
    try {
      for (const key of g.keys) {
        const ours = await runMain(main, 'postmap', ['-c', dir, '-q', key, spec]);
        const real = await runReal(REAL_POSTMAP, ['-c', dir, '-q', key, spec], dir);
        assert.deepEqual([ours.code, ours.out], [real.code, real.out], `key ${key}`);
        // Warnings (file, line, wording) match too.
        assert.equal(ours.err, real.err, `stderr for key ${key}`);
      }
    } finally {
      process.chdir(prev);
    }
  });
}

test('bin/postmap runs as a program: build, query on stdin, exit status', async (t) => {
  const dir = await setup(t);
  const bin = join(process.cwd(), 'bin', 'postmap');
  const map = join(dir, 'map');
  const build = await runReal(bin, ['-c', dir, `lmdb:${map}`], dir);
  assert.equal(build.code, 0, build.err);
  const q = await runReal(bin, ['-c', dir, '-q', '-', `lmdb:${map}`], dir, 'FOO\nmissing\nupper\n');
  assert.deepEqual([q.code, q.out], [0, 'FOO\tbar\nupper\tValue Kept\n']);
  const miss = await runReal(bin, ['-c', dir, '-q', 'missing', `lmdb:${map}`], dir);
  assert.deepEqual([miss.code, miss.out], [1, '']);
});

// header_checks/body_checks testing: multi-line headers are one key, `.`
// crosses the fold (POSIX regexec; PCRE_DOTALL on unless `s`), and the blank
// separator line is the first body line.
const MESSAGE = 'From: a@b\nSubject: hello\n world\nX-Spam: yes\n\nfirst body\n\nspam line\nlast\n';
const CHECKS: [string, string][] = [
  ['regexp', '/^subject:.*world/ SUBJ\n/spam/ SPAM\n/^$/ EMPTY\n/^last$/ LAST\n/^ world$/m FOLD\n'],
  ['pcre', '/^subject:.*world/s NOTDOTALL\n/^subject:.*world/ SUBJ\n/world$/m M\n/^$/ EMPTY\n'],
];
for (const [type, text] of CHECKS) {
  const skip = !hasReal(REAL_POSTMAP)
    ? 'no /usr/sbin/postmap'
    : !realTypes.includes(type)
      ? `real postmap lacks ${type}`
      : false;
  test(`golden: postmap -h/-b with ${type} matches the real postmap`, { skip }, async (t) => {
    const dir = await setup(t);
    const file = join(dir, `checks.${type}`);
    await writeFile(file, text);
    for (const mode of [['-h'], ['-b'], ['-h', '-b']]) {
      const args = ['-c', dir, ...mode, '-q', '-', `${type}:${file}`];
      const ours = await runMain(main, 'postmap', args, MESSAGE);
      const real = await runReal(REAL_POSTMAP, args, dir, MESSAGE);
      assert.deepEqual([ours.code, ours.out, ours.err], [real.code, real.out, real.err], mode.join(' '));
    }
  });
}

test('root builds a table owned by the source file owner unless -o', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to chown');
  const dir = await setup(t);
  const map = join(dir, 'map');
  const { chown, stat } = await import('node:fs/promises');
  await chown(map, 65534, 65534);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-w', `hash:${map}`])).code, 0);
  assert.equal((await stat(`${map}.db`)).uid, 65534);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-w', `cdb:${map}`])).code, 0);
  assert.equal((await stat(`${map}.cdb`)).uid, 65534);
  assert.equal((await runMain(main, 'postmap', ['-c', dir, '-w', '-o', `lmdb:${map}`])).code, 0);
  assert.equal((await stat(`${map}.lmdb`)).uid, 0);
});
