// How an smtpd session ends: after QUIT the server closes its end itself
// (as Postfix's smtpd does) once the 221 is written, so the client reads the
// whole reply and then an orderly end of stream, and the disconnect line
// counts the commands as usual. Pipelined bytes after QUIT still get the 221.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RawClient, eventually, startSmtpd } from './harness.js';

/** Everything the server sends until it closes, and whether the close was an orderly FIN. */
function rawDialogue(port: number, lines: readonly string[]): Promise<{ text: string; fin: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let fin = false;
    let error: string | undefined;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`server did not close; got ${JSON.stringify(text)}`));
    }, 5000);
    s.setEncoding('utf8');
    let next = 0;
    // The client never half-closes: only the server's close can end this stream.
    // Each entry of `lines` goes out once the previous reply is complete.
    s.on('data', (d: string) => {
      text += d;
      if (/(^|\n)\d{3} [^\n]*\r\n$/.test(text) && next < lines.length) s.write(lines[next++] ?? '');
    });
    s.on('end', () => {
      fin = true;
      s.destroy();
    });
    s.on('error', (e) => {
      error = e.message;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(error === undefined ? { text, fin } : { text, fin, error });
    });
  });
}

test('after QUIT the server sends 221 and closes the connection itself', async () => {
  const h = await startSmtpd();
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.match(await c.cmd('EHLO client.example'), /^250 /m);
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  assert.equal(await c.waitClosed(), true);
  assert.ok(await eventually(() => h.logs().includes('disconnect from localhost[127.0.0.1] ehlo=1 quit=1 commands=2')));
  await h.close();
});

test('the 221 is delivered whole before an orderly end of stream', async () => {
  const h = await startSmtpd();
  const r = await rawDialogue(h.port, ['HELO client.example\r\n', 'QUIT\r\n']);
  assert.equal(r.error, undefined);
  assert.equal(r.fin, true);
  assert.equal(r.text, '220 mx.example.test ESMTP Postern\r\n250 mx.example.test\r\n221 2.0.0 Bye\r\n');
  assert.ok(await eventually(() => h.logs().includes('disconnect from localhost[127.0.0.1] helo=1 quit=1 commands=2')));
  await h.close();
});

test('bytes pipelined after QUIT do not cost the client its 221', async () => {
  const h = await startSmtpd();
  const r = await rawDialogue(h.port, ['EHLO client.example\r\n', 'QUIT\r\nNOOP\r\n']);
  assert.match(r.text, /221 2\.0\.0 Bye\r\n$/);
  assert.ok(await eventually(() => h.logs().some((l) => l.startsWith('disconnect from localhost[127.0.0.1] '))));
  await h.close();
});
