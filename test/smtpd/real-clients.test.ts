// Real SMTP clients against the server: python3's smtplib (DSN options,
// SMTPUTF8, several recipients) and swaks with PIPELINING. Each is skipped
// with a reason when the program is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { content, startSmtpd } from './harness.js';

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, out: `${stdout}${stderr}` });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const PY = `
import smtplib, sys
from email.message import EmailMessage
port = int(sys.argv[1])
m = EmailMessage()
m['From'] = 'alice@example.org'
m['To'] = 'bob@example.test'
m['Subject'] = 'via smtplib'
m.set_content('hello from python\\n.leading dot\\n')
with smtplib.SMTP('127.0.0.1', port, local_hostname='py.example', timeout=10) as s:
    code, msg = s.ehlo('py.example')
    assert code == 250, (code, msg)
    refused = s.send_message(m, to_addrs=['bob@example.test', 'carol@example.test'],
                             mail_options=['RET=HDRS', 'ENVID=abc123'],
                             rcpt_options=['NOTIFY=FAILURE,DELAY'])
    assert refused == {}, refused
    m2 = EmailMessage()
    m2['From'] = 'jörg@exämple.org'
    m2['To'] = 'ünï@example.test'
    m2['Subject'] = 'utf8'
    m2.set_content('grüße')
    s.send_message(m2, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
print('ok')
`;

test(
  'python3 smtplib: two messages, DSN and SMTPUTF8',
  { skip: !have('python3') && 'python3 not installed' },
  async () => {
    const h = await startSmtpd();
    const r = await run('python3', ['-c', PY, String(h.port)]);
    assert.equal(r.code, 0, r.out);
    await h.close();
    const [m1, m2] = h.cleanup.committed();
    assert.ok(m1 && m2);
    assert.equal(m1.req.ret, 'HDRS');
    assert.equal(m1.req.envid, 'abc123');
    assert.deepEqual(
      m1.recipients.map((x) => [x.address, x.notify]),
      [
        ['bob@example.test', ['FAILURE', 'DELAY']],
        ['carol@example.test', ['FAILURE', 'DELAY']],
      ],
    );
    // Two recipients: no `for` clause, the date follows the `;`.
    const lines = content(m1).split('\r\n');
    assert.match(lines[1] ?? '', /^\tby mx\.example\.test \(Postern\) with ESMTP id 4Q\w+;$/);
    assert.ok(content(m1).includes('\r\n.leading dot\r\n'));
    assert.equal(m2.req.smtputf8, true);
    assert.equal(m2.req.sender, 'jörg@exämple.org');
    assert.equal(m2.recipients[0]?.address, 'ünï@example.test');
    assert.match(content(m2).split('\r\n')[1] ?? '', / with UTF8SMTP id /);
    assert.ok(
      h.logs().includes('disconnect from localhost[127.0.0.1] ehlo=1 mail=2 rcpt=3 data=2 quit=1 commands=9'),
      h.logs().join('\n'),
    );
  },
);

test('swaks with PIPELINING', { skip: !have('swaks') && 'swaks not installed' }, async () => {
  const h = await startSmtpd();
  const r = await run('swaks', [
    '--server',
    '127.0.0.1',
    '--port',
    String(h.port),
    '--helo',
    'swaks.example',
    '--from',
    'a@example.org',
    '--to',
    'b@example.test,c@example.test',
    '--pipeline',
    '--body',
    'pipelined body',
    '--timeout',
    '10',
  ]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /<- +250 2\.0\.0 Ok: queued as 4Q\w+/);
  await h.close();
  assert.equal(h.cleanup.committed().length, 1);
  assert.ok(content(h.cleanup.committed()[0]!).includes('pipelined body'));
  assert.ok(!h.logs().some((l) => l.includes('improper command pipelining')), h.logs().join('\n'));
});
