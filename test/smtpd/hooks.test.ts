// The hooks other areas plug in — STARTTLS (a real TLS handshake with a
// throwaway self-signed certificate), AUTH — and smtpd_discard_ehlo_keywords.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RawClient, content, startSmtpd } from './harness.js';
import type { AuthHook, StartTlsHook } from '../../src/daemons/smtpd/types.js';

function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=mx.example.test',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const creds = selfSigned();

function tlsHook(key: string, cert: string): StartTlsHook {
  const context = tls.createSecureContext({ key, cert });
  return {
    available: () => true,
    upgrade: (plain: Duplex) =>
      new Promise((resolve, reject) => {
        const s = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
        s.once('secure', () => resolve({ stream: s }));
        s.once('error', reject);
      }),
  };
}

test(
  'STARTTLS upgrades the session and forgets the plaintext EHLO',
  { skip: !creds && 'openssl not available' },
  async () => {
    const h = await startSmtpd('', { extra: { tls: tlsHook(creds!.key, creds!.cert) } });
    const c = await RawClient.connect(h.port);
    await c.reply();
    assert.match(await c.cmd('EHLO x'), /\n250-ETRN\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n/);
    assert.equal(await c.cmd('STARTTLS'), '220 2.0.0 Ready to start TLS');
    c.socket.removeAllListeners('data');
    // The harness unrefs its sockets; this one must keep the handshake alive.
    c.socket.ref();
    const secure = tls.connect({ socket: c.socket, rejectUnauthorized: false });
    await new Promise<void>((r) => secure.once('secureConnect', () => r()));
    let buf = '';
    secure.setEncoding('utf8');
    secure.on('data', (d: string) => (buf += d));
    const next = async (): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const m = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\r\n/.exec(buf);
        if (m) {
          buf = buf.slice(m[0].length);
          return m[0].replace(/\r\n/g, '\n').trim();
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no reply: ${buf}`);
    };
    secure.write('MAIL FROM:<a@x>\r\n');
    // The pre-TLS EHLO no longer counts, but MAIL does not require HELO by default.
    assert.equal(await next(), '250 2.1.0 Ok');
    // PIPELINING is forgotten with the plaintext EHLO, so one command at a time until EHLO.
    secure.write('RSET\r\n');
    assert.equal(await next(), '250 2.0.0 Ok');
    secure.write('EHLO y\r\n');
    const ehlo = await next();
    assert.doesNotMatch(ehlo, /STARTTLS/);
    secure.write('MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n');
    assert.equal(await next(), '250 2.1.0 Ok');
    assert.equal(await next(), '250 2.1.5 Ok');
    assert.match(await next(), /^354 /);
    secure.write('Subject: tls\r\n\r\nsecret\r\n.\r\nQUIT\r\n');
    assert.match(await next(), /^250 2\.0\.0 Ok: queued as /);
    assert.equal(await next(), '221 2.0.0 Bye');
    secure.destroy();
    await h.close();
    const m = h.cleanup.committed()[0];
    assert.ok(m);
    assert.match(content(m), /with ESMTPS id /);
    assert.equal(m.req.client?.protocol, 'ESMTPS');
  },
);

test(
  'plaintext pipelined behind STARTTLS is refused (no command injection)',
  { skip: !creds && 'openssl not available' },
  async () => {
    const h = await startSmtpd('', { extra: { tls: tlsHook(creds!.key, creds!.cert) } });
    const c = await RawClient.connect(h.port);
    await c.reply();
    await c.cmd('EHLO x');
    c.send('STARTTLS\r\nRSET\r\n');
    assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
    assert.ok(await c.waitClosed());
    await h.close();
  },
);

test('AUTH through the hook: 334 challenge, success, ESMTPA', async () => {
  const auth: AuthHook = {
    mechanisms: () => ['PLAIN', 'LOGIN'],
    async authenticate(mech, initial, challenge) {
      const resp = initial ?? (await challenge(''));
      const [, user, pass] = Buffer.from(resp, 'base64').toString('utf8').split('\0');
      if (mech === 'PLAIN' && user === 'u' && pass === 'p') return { username: 'u' };
      return { reply: { code: 535, dsn: '5.7.8', text: 'Error: authentication failed: bad' } };
    },
  };
  const h = await startSmtpd('smtpd_sasl_auth_enable = yes', { extra: { auth } });
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.match(await c.cmd('EHLO x'), /\n250-AUTH PLAIN LOGIN\n/);
  assert.equal(
    await c.cmd(`AUTH PLAIN ${Buffer.from('\0u\0bad').toString('base64')}`),
    '535 5.7.8 Error: authentication failed: bad',
  );
  assert.equal(await c.cmd('AUTH PLAIN'), '334 ');
  assert.equal(await c.cmd(Buffer.from('\0u\0p').toString('base64')), '235 2.7.0 Authentication successful');
  assert.equal(await c.cmd('AUTH PLAIN'), '503 5.5.1 Error: already authenticated');
  await c.cmd('MAIL FROM:<a@x>');
  await c.cmd('RCPT TO:<b@x>');
  await c.cmd('QUIT');
  await h.close();
  assert.equal(h.cleanup.messages[0]?.req.client?.protocol, 'ESMTPA');
  assert.equal(h.cleanup.messages[0]?.req.client?.saslUsername, 'u');
});

test('smtpd_discard_ehlo_keywords hides keywords and logs it', async () => {
  const h = await startSmtpd('smtpd_discard_ehlo_keywords = pipelining, chunking, dsn');
  const c = await RawClient.connect(h.port);
  await c.reply();
  assert.equal(
    await c.cmd('EHLO x'),
    [
      '250-mx.example.test',
      '250-SIZE 10240000',
      '250-VRFY',
      '250-ETRN',
      '250-ENHANCEDSTATUSCODES',
      '250-8BITMIME',
      '250 SMTPUTF8',
    ].join('\n'),
  );
  await h.close();
  assert.ok(h.logs().includes('discarding EHLO keywords: PIPELINING DSN CHUNKING'));
});
