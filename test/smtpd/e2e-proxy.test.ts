// End to end through `postfix start`: an smtpd entry with
// `-o smtpd_upstream_proxy_protocol=haproxy` behind a (simulated) HAProxy.
// The proxied client address decides relaying (mynetworks), appears in the
// log and in Received:; a malformed header is logged and dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { e2eSkip, run, startMailSystem, stockMasterCf } from '../e2e/harness.js';
import { RecordingReceiver } from '../e2e/recording-receiver.js';

/** A raw SMTP client that first writes a PROXY header; prints every reply line. */
const PROXIED_CLIENT = `
import socket, sys
port, header = int(sys.argv[1]), sys.argv[2].encode().decode('unicode_escape').encode('latin1')
s = socket.create_connection(('127.0.0.1', port), timeout=20)
f = s.makefile('rb')
s.sendall(header)
def reply():
    while True:
        line = f.readline()
        if not line:
            print('EOF'); return
        print(line.decode().rstrip())
        if line[3:4] != b'-':
            return
reply()
for cmd in sys.argv[3:]:
    s.sendall(cmd.encode() + b'\\r\\n')
    reply()
`;

test(
  'PROXY protocol: the proxied client relays, is logged and named in Received:',
  { skip: e2eSkip('python3') },
  async () => {
    const receiver = await RecordingReceiver.start();
    const sys = await startMailSystem({
      mainCf: `myhostname = mx.example.test
mydestination = $myhostname, localhost
mynetworks = 192.0.2.0/24
relayhost = [127.0.0.1]:${receiver.port}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination`,
      masterCf: (port) =>
        stockMasterCf(port).replace(/ smtpd\n/, ' smtpd\n  -o smtpd_upstream_proxy_protocol=haproxy\n'),
    });
    try {
      const ok = await run('python3', [
        '-c',
        PROXIED_CLIENT,
        String(sys.port),
        'PROXY TCP4 192.0.2.10 127.0.0.1 40000 25\\r\\n',
        'EHLO proxied.example',
        'MAIL FROM:<a@sender.test>',
        'RCPT TO:<b@remote.test>',
        'DATA',
        'Subject: via proxy\r\n\r\nbody\r\n.',
        'QUIT',
      ]);
      assert.match(ok.stdout, /^250 2\.0\.0 Ok: queued as \w+$/m, ok.stdout + ok.stderr);
      const [msg] = await receiver.waitFor(1);
      assert.match(msg?.data ?? '', /^Received: from proxied\.example \(unknown \[192\.0\.2\.10\]\)\r\n/);
      await sys.waitForLog(/postfix\/smtpd\[\d+\]: connect from unknown\[192\.0\.2\.10\]\n/);

      const bad = await run('python3', ['-c', PROXIED_CLIENT, String(sys.port), 'PROXY TCP4 192.0.2.10\\r\\n']);
      assert.equal(bad.stdout.trim(), 'EOF');
      await sys.waitForLog(
        /postfix\/smtpd\[\d+\]: warning: haproxy read: bad or missing server address: PROXY TCP4 192\.0\.2\.10\\r\\n\n[^]*connect from unknown\[127\.0\.0\.1\]/,
      );
    } finally {
      await sys.cleanup();
      await receiver.close();
    }
  },
);
