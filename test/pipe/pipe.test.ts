// pipe(8) end to end as root: a real script runs as user=, receives the
// expanded argv and the message prepared per flags=, and its exit status
// decides sent / deferred (EX_TEMPFAIL) / bounced. Argument parsing is
// checked without root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createPipeAgent } from '../../src/daemons/pipe/pipe.js';
import { parsePipeArgs, PipeConfigError } from '../../src/daemons/pipe/pipe-args.js';
import { ensureUser, openDir, request, MESSAGE, skipReason } from '../local/harness.js';

const skip = skipReason();

test('master.cf pipe attributes parse; mistakes are named', () => {
  const p = parsePipeArgs([
    'flags=DRXhu.',
    'user=vmail:mail',
    'size=1000',
    'eol=\\r\\n',
    'argv=/usr/bin/maildrop',
    '-d',
    '${recipient}',
  ]);
  assert.deepEqual([...p.flags].sort(), ['.', 'D', 'R', 'X', 'h', 'u']);
  assert.deepEqual([p.user, p.group, p.sizeLimit, p.eol], ['vmail', 'mail', 1000, '\r\n']);
  assert.deepEqual(p.argv, ['/usr/bin/maildrop', '-d', '${recipient}']);
  assert.throws(() => parsePipeArgs(['argv=/bin/true']), /missing user= command-line attribute/);
  assert.throws(() => parsePipeArgs(['user=x', 'flags=Z', 'argv=/bin/true']), /unknown flag: Z/);
  assert.throws(() => parsePipeArgs(['user=x', 'bogus=1', 'argv=/bin/true']), PipeConfigError);
  assert.throws(() => parsePipeArgs(['user=x']), /missing argv=/);
});

test('pipe runs the command as user= with expanded argv and flags applied', { skip }, async (t) => {
  const u = ensureUser('pstpipe1');
  const dir = await openDir(t, 'pipe');
  const script = `${dir}/deliver.sh`;
  await writeFile(
    script,
    `#!/bin/sh\nid -u > ${dir}/uid\nprintf '%s\\n' "$@" > ${dir}/args\ncat > ${dir}/msg\ncase "$2" in temp*) echo try later; exit 75;; bad*) echo no such user; exit 67;; fail*) exit 1;; esac\nexit 0\n`,
  );
  await chmod(script, 0o755);
  await chmod(dir, 0o1777);
  const config = Config.fromText('recipient_delimiter = +\n');
  const agent = createPipeAgent({
    config,
    logger: new MemoryLogger('postfix/pipe'),
    service: 'mydrop',
    args: [
      'flags=FDRO.>hu',
      'user=pstpipe1',
      `argv=${script}`,
      '${sender}',
      '${recipient}',
      '${user}',
      '${extension}',
      '${nexthop}',
      '${size}',
    ],
  });
  const req = request({
    recipients: ['User+Ext@Example.COM'],
    content: MESSAGE,
    transport: 'mydrop',
    nexthop: 'Example.COM',
  });
  const [o] = await agent.deliver(req);
  assert.deepEqual(
    [o?.status, o?.dsn, o?.reason, o?.relay],
    ['sent', '2.0.0', 'delivered via mydrop service', 'mydrop'],
  );
  assert.equal((await readFile(`${dir}/uid`, 'utf8')).trim(), String(u.uid));
  assert.deepEqual((await readFile(`${dir}/args`, 'utf8')).trim().split('\n'), [
    'sender@example.org',
    'user+ext@example.com',
    'user',
    'ext',
    'example.com',
    String(req.size),
  ]);
  const msg = await readFile(`${dir}/msg`, 'utf8');
  assert.match(
    msg,
    /^From sender@example\.org {2}.*\nReturn-Path: <sender@example\.org>\nX-Original-To: User\+Ext@Example\.COM\nDelivered-To: user\+ext@example\.com\nFrom: a@example\.org\n/,
  );
  assert.ok(msg.includes('\n>From the start\n..dot line\n'));

  const temp = await agent.deliver(request({ recipients: ['tempfail@example.com'], content: MESSAGE }));
  assert.deepEqual(
    [temp[0]?.status, temp[0]?.dsn, temp[0]?.reason],
    ['deferred', '4.3.0', 'temporary failure. Command output: try later'],
  );
  const bad = await agent.deliver(request({ recipients: ['baduser@example.com'], content: MESSAGE }));
  assert.deepEqual(
    [bad[0]?.status, bad[0]?.dsn, bad[0]?.reason],
    ['bounced', '5.1.1', 'user unknown. Command output: no such user'],
  );
  const fail = await agent.deliver(request({ recipients: ['failure@example.com'], content: MESSAGE }));
  assert.deepEqual([fail[0]?.status, fail[0]?.dsn], ['bounced', '5.3.0']);
  assert.match(fail[0]?.reason ?? '', /^Command died with status 1: /);
});

test('pipe: ${recipient} repeats per recipient; size= bounces; user=root is refused', { skip }, async (t) => {
  ensureUser('pstpipe1');
  const dir = await openDir(t, 'pipe');
  await chmod(dir, 0o1777);
  const agent = createPipeAgent({
    config: Config.fromText(''),
    logger: new MemoryLogger('postfix/pipe'),
    service: 'multi',
    args: [
      'user=pstpipe1',
      'size=100000',
      'argv=/bin/sh',
      '-c',
      `printf '%s\\n' "$@" > ${dir}/args`,
      'sh',
      '-r',
      '${recipient}',
    ],
  });
  const out = await agent.deliver(request({ recipients: ['a@x.example', 'b@x.example'], content: MESSAGE }));
  assert.deepEqual(
    out.map((o) => o.status),
    ['sent', 'sent'],
  );
  assert.deepEqual((await readFile(`${dir}/args`, 'utf8')).trim().split('\n'), ['-r', 'a@x.example', 'b@x.example']);
  const small = createPipeAgent({
    config: Config.fromText(''),
    logger: new MemoryLogger(),
    service: 'small',
    args: ['user=pstpipe1', 'size=10', 'argv=/bin/true'],
  });
  const [o] = await small.deliver(request({ recipients: ['a@x.example'], content: MESSAGE }));
  assert.deepEqual([o?.status, o?.dsn], ['bounced', '5.2.3']);
  assert.throws(
    () =>
      createPipeAgent({
        config: Config.fromText(''),
        logger: new MemoryLogger(),
        service: 'r',
        args: ['user=root', 'argv=/bin/true'],
      }),
    /root privileges/,
  );
});

test(
  'pipe: <service>_time_limit kills the command and everything it started; the delivery defers',
  { skip },
  async (t) => {
    ensureUser('pstpipe1');
    const dir = await openDir(t, 'pipe');
    await chmod(dir, 0o1777);
    const agent = createPipeAgent({
      config: Config.fromText('slow_time_limit = 1s\n'),
      logger: new MemoryLogger('postfix/pipe'),
      service: 'slow',
      args: ['user=pstpipe1', 'argv=/bin/sh', '-c', `(sleep 30; touch ${dir}/survivor) & sleep 30`],
    });
    const [o] = await agent.deliver(request({ recipients: ['a@x.example'], content: MESSAGE }));
    assert.deepEqual([o?.status, o?.dsn, o?.reason], ['deferred', '4.3.0', 'Command time limit exceeded: "/bin/sh"']);
    const { execFileSync } = await import('node:child_process');
    let left = '';
    try {
      left = execFileSync('pgrep', ['-u', 'pstpipe1', '-f', `touch ${dir}/survivor`], { encoding: 'utf8' });
    } catch {
      // pgrep exits 1 when nothing matches: what we want
    }
    assert.equal(left.trim(), '', 'no process of the command survives');
  },
);
