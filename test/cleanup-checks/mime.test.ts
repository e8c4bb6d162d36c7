// MIME structure awareness of cleanup's content checks: which table sees
// which header (header_checks, mime_header_checks, nested_header_checks),
// multipart boundaries, message/rfc822 attachments, the strict_* checks,
// mime_nesting_limit, mime_boundary_length_limit, body_checks_size_limit per
// body segment, disable_mime_input_processing, and bounded work on hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, linesFor, queued, type Harness } from './harness.js';

async function run(mainCf: string, tables: Record<string, string>, fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await harness(mainCf, tables);
  try {
    await fn(h);
  } finally {
    await h.done();
  }
}

const multipart = (partHeaders: string, partBody = 'hello'): string =>
  [
    'Subject: outer',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    'preamble',
    '--b1',
    'Content-Type: text/plain',
    '',
    'first part',
    '--b1',
    partHeaders,
    '',
    partBody,
    '--b1--',
    'epilogue',
    '',
  ].join('\n');

const attached = (inner: string): string =>
  [
    'Subject: outer',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    inner,
    '',
    'inner body',
    '--b1--',
    '',
  ].join('\n');

test('mime_header_checks (default $header_checks) see MIME headers of every part', async () => {
  await run(
    'header_checks = regexp:$DIR/hc\n',
    { hc: '/^Content-Type:.*x-msdownload/ REJECT no executables\n' },
    async (h) => {
      const v = await h.submit(multipart('Content-Type: application/x-msdownload; name="a.exe"'));
      assert.deepEqual(v, { status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'no executables' } });
      assert.ok(
        h.log
          .texts()
          .some((l) => /: reject: header Content-Type: application\/x-msdownload; name="a\.exe" from client/.test(l)),
      );
    },
  );
});

test('each class goes to its own table: part headers to mime_header_checks, attached message headers to nested_header_checks', async () => {
  const tables = {
    hc: '/^Subject: outer/ WARN primary\n/^(X-Part|Subject: inner|MIME-Version):/ REJECT wrong table\n',
    mc: '/^X-Part:/ WARN part header\n/^Content-Type: message/ INFO attachment\n/^Content-Type: text.html/ INFO inner mime\n/^MIME-Version:/ INFO primary mime\n',
    nc: '/^Subject: inner/ WARN nested\n/^Content-Type/ REJECT wrong table\n',
  };
  await run(
    'header_checks = regexp:$DIR/hc\nmime_header_checks = regexp:$DIR/mc\nnested_header_checks = regexp:$DIR/nc\n',
    tables,
    async (h) => {
      const a = queued(await h.submit(multipart('Content-Type: text/plain\nX-Part: yes')));
      const la = linesFor(h.log, a);
      assert.ok(la.some((l) => l.startsWith('warning: header Subject: outer from')));
      assert.ok(la.some((l) => l.startsWith('warning: header X-Part: yes from')));
      assert.ok(la.some((l) => l.startsWith('info: header MIME-Version: 1.0 from')));
      const b = queued(await h.submit(attached('Subject: inner\nContent-Type: text/html\nFrom: x@example.org')));
      const lb = linesFor(h.log, b);
      assert.ok(
        lb.some((l) => l.startsWith('info: header Content-Type: message/rfc822 from')),
        lb.join('\n'),
      );
      assert.ok(
        lb.some((l) => l.startsWith('warning: header Subject: inner from')),
        lb.join('\n'),
      );
    },
  );
});

test('nested_header_checks empty: an attached message header is not checked at all', async () => {
  await run(
    'header_checks = regexp:$DIR/hc\nnested_header_checks =\n',
    { hc: '/^Subject: inner/ REJECT\n' },
    async (h) => {
      queued(await h.submit(attached('Subject: inner')));
    },
  );
});

test('edits inside the body: IGNORE and REPLACE of part and nested headers change the stored message', async () => {
  await run(
    'header_checks = regexp:$DIR/hc\n',
    { hc: '/^X-Part:/ IGNORE\n/^Subject: inner/ REPLACE Subject: [scanned] inner\n' },
    async (h) => {
      const id = queued(await h.submit(attached('Subject: inner\nX-Part: drop me')));
      const text = await h.stored(id);
      assert.match(text, /\nSubject: \[scanned\] inner\n/);
      assert.doesNotMatch(text, /X-Part/);
      assert.match(text, /\ninner body\n--b1--\n$/);
    },
  );
});

test('body_checks see part bodies, not part headers; body_checks_size_limit counts per body segment', async () => {
  const filler = 'x'.repeat(60);
  await run(
    'body_checks = regexp:$DIR/bc\nbody_checks_size_limit = 100\n',
    { bc: '/^Content-Type/ REJECT header seen as body\n/^bad/ REJECT bad line\n' },
    async (h) => {
      // A bad line 120 bytes into the first segment is beyond the limit.
      queued(await h.submit(multipart('Content-Type: text/plain', `${filler}\n${filler}\nbad late`)));
      // At the start of another part it is inspected.
      const v = await h.submit(multipart('Content-Type: text/plain', 'bad early'));
      assert.deepEqual(v, { status: 'rejected', reply: { code: 550, dsn: '5.7.1', text: 'bad line' } });
    },
  );
});

test('disable_mime_input_processing = yes: part headers are plain body lines', async () => {
  await run(
    'disable_mime_input_processing = yes\nbody_checks = regexp:$DIR/bc\n',
    { bc: '/^Content-Type: application/ REJECT seen as body\n' },
    async (h) => {
      const v = await h.submit(multipart('Content-Type: application/pdf'));
      assert.equal(v.status, 'rejected');
    },
  );
  await run(
    'body_checks = regexp:$DIR/bc\n',
    { bc: '/^Content-Type: application/ REJECT seen as body\n' },
    async (h) => {
      queued(await h.submit(multipart('Content-Type: application/pdf')));
    },
  );
});

function nestedMultipart(depth: number): string {
  const lines = ['Subject: deep'];
  for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="d${i}"`, '', `--d${i}`);
  lines.push('Content-Type: text/plain', '', 'leaf');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--d${i}--`);
  return `${lines.join('\n')}\n`;
}

test('mime_nesting_limit: deeper structure is rejected with Postfix text and mime-error log line', async () => {
  await run('header_checks = regexp:$DIR/hc\nmime_nesting_limit = 3\n', { hc: '/^X-Nothing/ WARN\n' }, async (h) => {
    queued(await h.submit(nestedMultipart(3)));
    const v = await h.submit(nestedMultipart(4));
    assert.deepEqual(v, {
      status: 'rejected',
      reply: { code: 550, dsn: '5.6.0', text: 'MIME nesting exceeds safety limit' },
    });
    assert.ok(
      h.log
        .texts()
        .some((l) =>
          l.endsWith(
            ': reject: mime-error MIME nesting exceeds safety limit: Content-Type: multipart/mixed; boundary="d3" from client.example[192.0.2.7]; from=<alice@example.com> to=<bob@example.org>',
          ),
        ),
      h.log.texts().join('\n'),
    );
  });
});

test('hostile nesting (10000 levels) is refused at the default limit without deep work', async () => {
  await run('header_checks = regexp:$DIR/hc\n', { hc: '/^X-Nothing/ WARN\n' }, async (h) => {
    const v = await h.submit(nestedMultipart(10000));
    assert.equal(v.status, 'rejected');
  });
});

test('strict_7bit_headers, strict_8bitmime_body, strict_8bitmime and strict_mime_encoding_domain', async () => {
  const eightBitHeader = 'Subject: caf\u00e9\n\nbody\n';
  const eightBitBody = 'Subject: s\n\ncaf\u00e9\n';
  const declared8bit = 'Subject: s\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\ncaf\u00e9\n';
  const encodedMultipart =
    'Subject: s\nContent-Type: multipart/mixed; boundary="q"\nContent-Transfer-Encoding: base64\n\n--q--\n';
  await run('', {}, async (h) => {
    // Defaults: nothing of this is refused.
    for (const m of [eightBitHeader, eightBitBody, encodedMultipart]) queued(await h.submit(m));
  });
  await run('strict_7bit_headers = yes\n', {}, async (h) => {
    assert.deepEqual(await h.submit(eightBitHeader), {
      status: 'rejected',
      reply: { code: 550, dsn: '5.6.0', text: 'improper use of 8-bit data in message header' },
    });
    queued(await h.submit(eightBitBody));
  });
  await run('strict_8bitmime_body = yes\n', {}, async (h) => {
    assert.deepEqual(await h.submit(eightBitBody), {
      status: 'rejected',
      reply: { code: 550, dsn: '5.6.0', text: 'improper use of 8-bit data in message body' },
    });
    queued(await h.submit(declared8bit));
  });
  await run('strict_8bitmime = yes\n', {}, async (h) => {
    assert.equal((await h.submit(eightBitHeader)).status, 'rejected');
    assert.equal((await h.submit(eightBitBody)).status, 'rejected');
  });
  await run('strict_mime_encoding_domain = yes\n', {}, async (h) => {
    assert.deepEqual(await h.submit(encodedMultipart), {
      status: 'rejected',
      reply: { code: 550, dsn: '5.6.0', text: 'invalid message/* or multipart/* encoding domain' },
    });
  });
});

test('mime_boundary_length_limit: boundaries equal in their first N characters are one boundary', async () => {
  const msg = [
    'Content-Type: multipart/mixed; boundary="abcdef1"',
    '',
    '--abcXYZ',
    'Content-Type: application/evil',
    '',
    'x',
    '',
  ].join('\n');
  const tables = { hc: '/^Content-Type: application\\/evil/ REJECT\n' };
  await run('header_checks = regexp:$DIR/hc\nmime_boundary_length_limit = 3\n', tables, async (h) => {
    assert.equal((await h.submit(msg)).status, 'rejected');
  });
  await run('header_checks = regexp:$DIR/hc\n', tables, async (h) => {
    queued(await h.submit(msg));
  });
});

test('hostile sizes: a 4 MB body line and a 1 MB folded part header are inspected in bounded pieces', async () => {
  await run(
    'header_checks = regexp:$DIR/hc\nbody_checks = regexp:$DIR/bc\nmessage_size_limit = 0\n',
    { hc: '/^X-Huge:/ WARN huge\n', bc: '/^yyyy/ REJECT\n' },
    async (h) => {
      const longLine = `${'x'.repeat(4 * 1024 * 1024)}yyyy`;
      const id = queued(await h.submit(`Subject: s\n\n${longLine}\n`));
      assert.equal((await h.stored(id)).length, 'Subject: s\n\n'.length + longLine.length + 1);
      const folded = `X-Huge: a${'\n b'.repeat(300_000)}`;
      const id2 = queued(await h.submit(multipart(folded)));
      const warn = linesFor(h.log, id2).find((l) => l.startsWith('warning: header X-Huge'));
      assert.ok(warn !== undefined && warn.length < 1000);
    },
  );
});
