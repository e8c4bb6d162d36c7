// postcat(1): -q finds a message in the store or in maildrop/ and prints it
// in Postfix's layout (ENVELOPE RECORDS / MESSAGE CONTENTS / HEADER EXTRACTED
// / MESSAGE FILE END, record names such as sender:, recipient:,
// done_recipient:); -h and -b select header and body without the section
// markers; a maildrop or segment file can be named directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { SegmentStore } from '../../src/global/queue/segment-store.js';
import { Config } from '../../src/global/params/config.js';
import { CleanupServer } from '../../src/daemons/cleanup/cleanup-service.js';
import { runTool, tempInstall } from '../sendmail/tools-harness.js';

const ARRIVAL = Date.UTC(2026, 0, 5, 3, 4, 5);
const CONTENT = 'Subject: cat\r\nX-Folded: a\r\n b\r\n\r\nbody 1\r\nbody 2\r\n';

test('postcat -q on a stored message: envelope, contents and section markers', async () => {
  const inst = await tempInstall();
  try {
    const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
    await store.enqueue(
      {
        queueId: 'ABCDEF0123',
        arrivalTime: ARRIVAL,
        sender: 'alice@example.com',
        recipients: [
          { address: 'bob@example.org', original: 'bob@example.org' },
          { address: 'carol@example.net', original: 'carol-alias@example.org' },
        ],
      },
      Buffer.from(CONTENT),
    );
    await store.recordOutcomes('ABCDEF0123', [{ index: 0, status: 'sent', dsn: '2.0.0', reason: 'ok', relay: 'x' }]);
    await store.setState('ABCDEF0123', 'deferred', { nextAttempt: ARRIVAL });
    await store.close();

    const r = await runTool(inst, 'postcat', ['-q', 'ABCDEF0123']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '*** ENVELOPE RECORDS deferred/ABCDEF0123 ***');
    assert.match(lines[1] ?? '', /^message_size: +49 +\d+ +2 +0 +49 +0$/);
    assert.ok(lines.includes('message_arrival_time: Mon Jan  5 03:04:05 2026'));
    assert.ok(lines.includes('sender: alice@example.com'));
    const i = lines.indexOf('original_recipient: bob@example.org');
    assert.equal(lines[i + 1], 'done_recipient: bob@example.org');
    assert.equal(lines[i + 2], 'original_recipient: carol-alias@example.org');
    assert.equal(lines[i + 3], 'recipient: carol@example.net');
    assert.equal(
      r.stdout.slice(r.stdout.indexOf('*** MESSAGE CONTENTS')),
      '*** MESSAGE CONTENTS deferred/ABCDEF0123 ***\nSubject: cat\nX-Folded: a\n b\n\nbody 1\nbody 2\n' +
        '*** HEADER EXTRACTED deferred/ABCDEF0123 ***\n*** MESSAGE FILE END deferred/ABCDEF0123 ***\n',
    );
    assert.equal(
      (await runTool(inst, 'postcat', ['-h', '-q', 'ABCDEF0123'])).stdout,
      'Subject: cat\nX-Folded: a\n b\n',
    );
    assert.equal((await runTool(inst, 'postcat', ['-bq', 'ABCDEF0123'])).stdout, '\nbody 1\nbody 2\n');
    const missing = await runTool(inst, 'postcat', ['-q', 'NOSUCH0000']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, 'postcat: warning: no message file for ID NOSUCH0000\n');

    // The segment file itself, named on the command line.
    const seg = (await readdir(join(inst.queueDir, 'segments'))).find((n) => /^\d{8}$/.test(n)) ?? '';
    const f = await runTool(inst, 'postcat', ['-e', join(inst.queueDir, 'segments', seg)]);
    assert.match(f.stdout, /^\*\*\* ENVELOPE RECORDS .*:ABCDEF0123 \*\*\*$/m);
  } finally {
    await inst.cleanup();
  }
});

test('postcat on a maildrop file matches Postfix postcat layout for maildrop files', async () => {
  const inst = await tempInstall();
  try {
    await runTool(
      inst,
      'sendmail',
      ['-f', 'alice@example.com', '-F', 'Alice A', 'bob@example.org'],
      'Subject: hi\n\nbody line\n',
    );
    const [id] = await readdir(join(inst.queueDir, 'maildrop'));
    assert.ok(id);
    const byId = await runTool(inst, 'postcat', ['-q', id]);
    const path = join(inst.queueDir, 'maildrop', id);
    const byPath = await runTool(inst, 'postcat', [path]);
    const body = (label: string): RegExp =>
      new RegExp(
        `^\\*\\*\\* ENVELOPE RECORDS ${label} \\*\\*\\*\\n` +
          'message_arrival_time: \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\n' +
          'named_attribute: rewrite_context=local\\nsender_fullname: Alice A\\nsender: alice@example.com\\n' +
          'recipient: bob@example.org\\n' +
          `\\*\\*\\* MESSAGE CONTENTS ${label} \\*\\*\\*\\nSubject: hi\\n\\nbody line\\n` +
          `\\*\\*\\* HEADER EXTRACTED ${label} \\*\\*\\*\\n\\*\\*\\* MESSAGE FILE END ${label} \\*\\*\\*\\n$`,
      );
    assert.match(byId.stdout, body(`maildrop/${id}`));
    assert.match(byPath.stdout, body(path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  } finally {
    await inst.cleanup();
  }
});

/** A Postfix queue file record: type byte, length in 7-bit groups (low first), data. */
function postfixRecord(type: string, data: string): Buffer {
  const body = Buffer.from(data, 'latin1');
  const len: number[] = [];
  let n = body.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(len), body]);
}

test(
  'postcat -d prints the record type Postfix gives each line; same lines as Debian postcat -d',
  { skip: existsSync('/usr/sbin/postcat') ? false : '/usr/sbin/postcat (Debian postfix) is not installed' },
  async () => {
    const inst = await tempInstall();
    try {
      const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: new MemoryLogger('t') });
      await store.enqueue(
        {
          queueId: 'ABCDEF0124',
          arrivalTime: ARRIVAL,
          sender: 'alice@example.com',
          recipients: [
            { address: 'bob@example.org', original: 'bob@example.org' },
            { address: 'carol@example.net', original: 'carol-alias@example.org' },
          ],
        },
        Buffer.from(CONTENT),
      );
      await store.recordOutcomes('ABCDEF0124', [{ index: 0, status: 'sent', dsn: '2.0.0', reason: 'ok', relay: 'x' }]);
      await store.close();
      const ours = await runTool(inst, 'postcat', ['-d', '-q', 'ABCDEF0124']);
      assert.equal(ours.status, 0, ours.stderr);

      // The same message as a Postfix 3.7 queue file, shown by Debian's postcat.
      const t = String(Math.floor(ARRIVAL / 1000));
      const lines = CONTENT.split('\r\n').slice(0, -1);
      const file = Buffer.concat([
        postfixRecord('C', `${[49, 200, 2, 0, 49, 0].map((v) => String(v).padStart(15)).join(' ')}`),
        postfixRecord('T', `${t} 000000`),
        postfixRecord('A', `create_time=${t}`),
        postfixRecord('A', 'rewrite_context=local'),
        postfixRecord('S', 'alice@example.com'),
        postfixRecord('O', 'bob@example.org'),
        postfixRecord('D', 'bob@example.org'),
        postfixRecord('O', 'carol-alias@example.org'),
        postfixRecord('R', 'carol@example.net'),
        postfixRecord('M', ''),
        ...lines.map((l) => postfixRecord('N', l)),
        postfixRecord('X', ''),
        postfixRecord('E', ''),
      ]);
      const path = join(inst.dir, 'ABCDEF0124');
      await writeFile(path, file);
      const theirs = execFileSync('/usr/sbin/postcat', ['-d', path], { env: { ...process.env, TZ: 'UTC' } }).toString();
      // Apart from the label and message_size's figures (offsets differ between the formats), line for line equal.
      const norm = (s: string, label: string): string =>
        s
          .split(label)
          .join('LABEL')
          .replace(/^( 67 message_size:).*$/m, '$1 ...');
      assert.equal(norm(ours.stdout, 'incoming/ABCDEF0124'), norm(theirs, path));
      assert.match(ours.stdout, /^ 78 Subject: cat$/m);

      // -o -d: offset, then type, in Postfix's widths; content offsets grow.
      const od = (await runTool(inst, 'postcat', ['-o', '-d', '-q', 'ABCDEF0124'])).stdout.split('\n');
      const content = od.filter((l) => / {2}78 /.test(l)).map((l) => Number(/^ *(\d+) /.exec(l)?.[1]));
      assert.equal(content.length, lines.length);
      assert.deepEqual(
        content,
        [...content].sort((a, b) => a - b),
      );
      assert.ok(
        od.every((l) => l === '' || l.startsWith('***') || /^ {0,8}\d{1,9} {1,3}\d{1,3} /.test(l)),
        od.join('\n'),
      );
      // -r is accepted: Postern's files have no pointer records, so file order is the only order.
      assert.equal((await runTool(inst, 'postcat', ['-r', '-d', '-q', 'ABCDEF0124'])).stdout, ours.stdout);
    } finally {
      await inst.cleanup();
    }
  },
);

// The attribute order below is what Debian's postcat 3.7.11 prints for a message that
// smtpd took after `XFORWARD NAME=orig.example ADDR=192.0.2.7 PORT=4711 PROTO=ESMTP
// HELO=orig-helo.example` with content_filter set (a throwaway `postfix -c DIR start`
// instance; Postfix adds further attributes Postern does not keep, left out here).
test('postcat: a message from cleanup shows content_filter and the forwarded client port and protocol', async () => {
  const inst = await tempInstall();
  try {
    const log = new MemoryLogger('postfix/cleanup');
    const store = await SegmentStore.open({ queueDirectory: inst.queueDir, logger: log });
    const config = Config.fromText('myhostname = mx.example.net\ncontent_filter = scan:[127.0.0.1]:10025\n');
    const server = new CleanupServer({ store, config, logger: log });
    const client = {
      name: 'orig.example',
      reverseName: 'orig.example',
      addr: '192.0.2.7',
      port: 4711,
      helo: 'orig-helo.example',
      protocol: 'ESMTP',
    };
    const tx = await server.open({ origin: 'smtpd', sender: 'a@x.test', client, arrivalTime: ARRIVAL });
    tx.addRecipient({ address: 'b@mx.example.net' });
    tx.write(Buffer.from('Subject: t\r\n\r\nbody\r\n'));
    const v = await tx.commit();
    await store.close();
    assert.equal(v.status, 'queued', JSON.stringify(v));
    const id = v.status === 'queued' ? v.queueId : '';

    const r = await runTool(inst, 'postcat', ['-e', '-q', id]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter((l) => !/^(message_size|message_arrival_time|create_time|\*\*\*)/.test(l));
    assert.deepEqual(lines.slice(0, 9), [
      'content_filter: scan:[127.0.0.1]:10025',
      'named_attribute: rewrite_context=remote',
      'sender: a@x.test',
      'named_attribute: log_client_name=orig.example',
      'named_attribute: log_client_address=192.0.2.7',
      'named_attribute: log_client_port=4711',
      'named_attribute: log_message_origin=orig.example[192.0.2.7]',
      'named_attribute: log_helo_name=orig-helo.example',
      'named_attribute: log_protocol_name=ESMTP',
    ]);
    const d = await runTool(inst, 'postcat', ['-e', '-d', '-q', id]);
    assert.match(d.stdout, /^ 76 content_filter: scan:\[127\.0\.0\.1\]:10025$/m);
  } finally {
    await inst.cleanup();
  }
});
