// postconf -t and -b (bounce templates) against Debian's real Postfix 3.7
// postconf: the same layout (four `name = <<EOF` blocks, header lines, an
// empty line, text, `EOF`), identical output for a template file's own
// templates (expansion, time units, `$$`), and the same handling of a broken
// file. Postern's built-in text is its own, so only its shape is compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveRealPostconf, postern, realPostconf } from './run.js';

const skip = haveRealPostconf ? false : 'Debian postfix not installed (/usr/sbin/postconf missing)';

const MAIN =
  'myhostname = mx.example.org\nmydomain = example.org\ndelay_warning_time = 4h\nmaximal_queue_lifetime = 3d\n';

const FILE = [
  '# site templates',
  '',
  'failure_template = <<EOT',
  'charset: us-ascii',
  'FROM: Postmaster Desk <MAILER-DAEMON>',
  'Subject: Your mail to us bounced',
  'Postmaster-Subject: PM copy: bounced',
  '',
  'Hello from $myhostname ($mydomain).',
  'We kept trying for $maximal_queue_lifetime_days day(s), i.e. $maximal_queue_lifetime_hours hours.',
  'A literal $$ sign, and ${mydomain?{domain set}:{no domain}}.',
  'EOT',
  '',
  'delay_template = <<EOF',
  'Subject: Still trying',
  '',
  'Delayed $delay_warning_time_hours hour(s) = $delay_warning_time_minutes minutes.',
  'EOF',
  '',
].join('\n');

async function dir(files: Record<string, string>): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'postern-bt-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
  return d;
}

/** A postconf -t/-b listing reduced to its layout: block names, header labels, text present, terminators. */
function shape(out: string): string[] {
  const res: string[] = [];
  let inBlock = false;
  let inHeaders = false;
  for (const l of out.split('\n')) {
    if (!inBlock) {
      if (l === '') res.push('(blank)');
      else {
        res.push(l);
        inBlock = true;
        inHeaders = l.endsWith('_template = <<EOF');
      }
      continue;
    }
    if (l === 'EOF') {
      res.push('EOF');
      inBlock = false;
    } else if (inHeaders && l === '') {
      res.push('(end of headers)');
      inHeaders = false;
    } else if (inHeaders) res.push(l.replace(/:.*/, ':'));
    else if (res[res.length - 1] !== '(text)') res.push('(text)');
  }
  return res;
}

/** The block of one template from a listing. */
function block(out: string, head: string): string {
  const start = out.indexOf(`${head} = <<EOF\n`);
  assert.ok(start >= 0, `${head} present`);
  const end = out.indexOf('\nEOF\n', start);
  return out.slice(start, end + 5);
}

test('postconf -t and -b print the built-in templates in Postfix layout', { skip }, async () => {
  const d = await dir({ 'main.cf': MAIN });
  try {
    for (const flag of ['-t', '-b']) {
      const ours = await postern(['-c', d, flag]);
      const real = await realPostconf(['-c', d, flag]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(real.code, 0, real.stderr);
      assert.equal(ours.stderr, '');
      assert.deepEqual(shape(ours.stdout), shape(real.stdout), flag);
    }
    const b = await postern(['-c', d, '-b']);
    // Built-in text expanded: our host name, the configured durations in the delay notice, our name.
    assert.match(b.stdout, /This is the mail system at host mx\.example\.org\./);
    assert.match(b.stdout, /delayed for 4 hour\(s\) or more\. It will be tried again until\nit is 3 day\(s\) old/);
    assert.match(b.stdout, /The Postern program/);
    const t = await postern(['-c', d, '-t']);
    assert.match(t.stdout, /\$delay_warning_time_hours hour\(s\)/, '-t shows the text unexpanded');
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test("a template file's own templates print exactly as Postfix prints them", { skip }, async () => {
  const d = await dir({ 'main.cf': MAIN, 'bounce.cf': FILE });
  try {
    const file = join(d, 'bounce.cf');
    for (const [flag, heads] of [
      ['-t', ['failure_template', 'delay_template']],
      ['-b', ['expanded_failure_text', 'expanded_delay_text']],
    ] as const) {
      const ours = await postern(['-c', d, flag, file]);
      const real = await realPostconf(['-c', d, flag, file]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(real.code, 0, real.stderr);
      // A header the file leaves out keeps the built-in value, which is Postern's own.
      const oursNormalised = ours.stdout.replaceAll(
        'From: MAILER-DAEMON (Mail Delivery System)',
        'From: Mail Delivery System <MAILER-DAEMON>',
      );
      for (const h of heads) assert.equal(block(oursNormalised, h), block(real.stdout, h), `${flag} ${h}`);
      assert.deepEqual(shape(ours.stdout), shape(real.stdout), flag);
    }
    // Without an argument, bounce_template_file names the file.
    await writeFile(join(d, 'main.cf'), `${MAIN}bounce_template_file = ${file}\n`);
    const viaParam = await postern(['-c', d, '-b']);
    assert.match(
      viaParam.stdout,
      /We kept trying for 3 day\(s\), i\.e\. 72 hours\.\nA literal \$ sign, and domain set\./,
    );
    assert.match(viaParam.stdout, /Delayed 4 hour\(s\) = 240 minutes\./);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test(
  'broken template files: warnings name file and line, built-in text stays; fatal cases exit 1',
  { skip },
  async () => {
    const d = await dir({
      'main.cf': MAIN,
      'label.cf': 'success_template = <<EOF\nBogus: x\n\ntext\nEOF\n',
      'marker.cf': 'failure_template = <<EOF\ntext\n',
      'pm.cf': 'verify_template = <<EOF\nPostmaster-Subject: no such copy\n\ntext\nEOF\n',
      'eight.cf': 'failure_template = <<EOF\n\ncaf\u00e9\nEOF\n',
      'undef.cf': 'failure_template = <<EOF\nuses $no_such_parameter_here\nEOF\n',
      'unit.cf': 'delay_template = <<EOF\n$delay_warning_time_fortnights\nEOF\n',
      'syntax.cf': 'this is not a template\n',
    });
    try {
      for (const [name, code, warning] of [
        [
          'label.cf',
          0,
          /label\.cf, line 2: unknown "Bogus" header label in success template -- ignoring this template/,
        ],
        ['marker.cf', 0, /marker\.cf, line 3: missing "EOF" end marker/],
        ['pm.cf', 0, /pm\.cf, line 2: inapplicable "Postmaster-Subject" header label in verify template/],
        ['eight.cf', 0, /eight\.cf, line 3: 8-bit message text in failure template/],
        ['undef.cf', 1, /fatal: .*undef\.cf: undefined \$no_such_parameter_here in failure template/],
        ['unit.cf', 1, /fatal: .*unit\.cf: unrecognized suffix "fortnights"/],
        ['syntax.cf', 1, /fatal: .*syntax\.cf, line 1: missing '=' after template name/],
        ['absent.cf', 1, /fatal: open .*absent\.cf: No such file or directory/],
      ] as const) {
        const file = join(d, name);
        const ours = await postern(['-c', d, '-b', file]);
        const real = await realPostconf(['-c', d, '-b', file]);
        assert.equal(ours.code, code, `${name}: ${ours.stderr}`);
        assert.equal(real.code, code, `real postconf on ${name}: ${real.stderr}`);
        assert.match(ours.stderr, warning, name);
        if (code === 0) {
          // The refused template is replaced by the built-in one, as in Postfix.
          assert.deepEqual(shape(ours.stdout), shape(real.stdout), name);
          assert.match(ours.stdout, /The Postern program/);
        }
      }
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  },
);
