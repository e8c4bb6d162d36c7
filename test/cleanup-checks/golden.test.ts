// Golden comparison with Debian's real Postfix 3.7: `postmap -q - -h -b`
// (with `-m` for MIME parsing) reports which header and body keys a table
// matches, in message order. The same messages through Postern's cleanup,
// with every table a WARN table, must produce the same keys with the same
// results in the same order. Skipped when /usr/sbin/postmap is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { harness, linesFor, queued } from './harness.js';

const POSTMAP = '/usr/sbin/postmap';
const skip = existsSync(POSTMAP) ? false : 'Debian postfix (/usr/sbin/postmap) is not installed';

const TABLE = [
  '/^Subject:.*(spam|multi)/ WARN r1',
  '/^Content-(Type|Transfer-Encoding): (application|message|base64)/ WARN r2',
  '/^X-Inner/ WARN r3',
  '/^body[0-9]/ WARN r4',
  '/^--b[0-9]/ WARN r5',
  '/^$/ WARN r6',
  '/^MIME-Version/ WARN r7',
  '/^(From|To): .*inner/ WARN r8',
  '/^not a header/ WARN r9',
  '',
].join('\n');

const MESSAGES: Record<string, string> = {
  multipart: [
    'Subject: spam',
    ' multi',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    'body0 preamble',
    '--b1',
    'Content-Type: application/pdf',
    'X-Inner: 1',
    '',
    'body1',
    '--b1 trailing junk',
    'Content-Type: text/plain',
    '',
    'body2',
    '--b1--',
    'body3 epilogue',
  ].join('\n'),
  attached: [
    'Subject: x',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Subject: spam inner',
    'From: someone inner',
    'X-Inner: 2',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain',
    'X-Inner: 3',
    '',
    'body4',
    '--b2--',
    '--b1--',
  ].join('\n'),
  direct: ['Subject: direct', 'Content-Type: message/rfc822', '', 'To: direct inner', 'X-Inner: 4', '', 'body5'].join(
    '\n',
  ),
  digest: [
    'Content-Type: multipart/digest; boundary="b3"',
    '',
    '--b3',
    '',
    'Subject: spam in digest',
    '',
    'body6',
    '--b3--',
  ].join('\n'),
  noSeparator: ['Subject: spam', 'X-Inner: 5', 'not a header line', 'body7'].join('\n'),
  partNoSeparator: [
    'Content-Type: multipart/mixed; boundary="b5"',
    '',
    '--b5',
    'X-Inner: 7',
    'not a header line in a part',
    'body9',
    '--b5--',
  ].join('\n'),
  encoded: [
    'Content-Type: multipart/mixed; boundary="b4"',
    'Content-Transfer-Encoding: base64',
    '',
    '--b4',
    'X-Inner: 6',
    '',
    'body8',
  ].join('\n'),
};

function postmap(args: string[], table: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(POSTMAP, [...args, '-q', '-', `regexp:${table}`], { timeout: 20_000 }, (err, stdout) =>
      err ? reject(new Error(`postmap failed: ${err.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

/** `key\tWARN rN` records, keys possibly spanning lines. */
function parsePostmap(out: string): string[] {
  return [...out.matchAll(/([^\t]*?)\tWARN (r\d+)\n/g)].map((m) => `${m[1] ?? ''} => ${m[2] ?? ''}`);
}

function parseLog(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = /^warning: (?:header|body) ([\s\S]*) from client\.example\[192\.0\.2\.7\];.*: (r\d+)$/.exec(l);
    if (m) out.push(`${m[1] ?? ''} => ${m[2] ?? ''}`);
  }
  return out;
}

for (const [mime, flags] of [
  [true, ['-m', '-h', '-b']],
  [false, ['-h', '-b']],
] as const) {
  test(
    `matching decisions equal Debian postmap ${flags.join(' ')} (MIME processing ${mime ? 'on' : 'off'})`,
    { skip },
    async () => {
      const checks = ['header_checks', 'mime_header_checks', 'nested_header_checks', 'body_checks']
        .map((p) => `${p} = regexp:$DIR/t`)
        .join('\n');
      const h = await harness(`${checks}\ndisable_mime_input_processing = ${mime ? 'no' : 'yes'}\n`, { t: TABLE });
      try {
        for (const [name, msg] of Object.entries(MESSAGES)) {
          const expected = parsePostmap(await postmap([...flags], join(h.dir, 't'), `${msg}\n`));
          const id = queued(await h.submit(`${msg}\n`));
          assert.deepEqual(parseLog(linesFor(h.log, id)), expected, `message "${name}"`);
        }
      } finally {
        await h.done();
      }
    },
  );
}
