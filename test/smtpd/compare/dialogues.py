#!/usr/bin/env python3
# Runs the same SMTP dialogues against two servers (Debian's real Postfix
# smtpd and Postern's) and prints a unified diff of the normalised
# transcripts: the way differences in the reply set are found (issue 3).
# Usage: dialogues.py POSTFIX_PORT POSTERN_PORT  (see run.sh). Exit 1 on a difference.
import difflib
import re
import socket
import sys

DIALOGUES = {
    'basic': ['EHLO client.example', 'MAIL FROM:<a@x.test>', 'RCPT TO:<u@mx.example.test>',
              'RCPT TO:<root@mx.example.test>', 'DATA',
              '.Subject: t\r\n\r\nbody\r\n.', 'QUIT'],
    'helo': ['HELO client.example', 'MAIL FROM:<a@x.test> SIZE=10', 'RSET', 'HELO', 'EHLO', 'QUIT'],
    'order': ['MAIL FROM:<a@x.test>', 'RCPT TO:<u@mx.example.test>', 'DATA', 'EHLO c.example', 'RCPT TO:<u@x>',
              'DATA', 'MAIL FROM:<a@x.test>', 'MAIL FROM:<a@x.test>', 'QUIT'],
    'syntax': ['EHLO c.example', 'MAIL', 'MAIL FROM:', 'MAIL FROM:<a@x.test', 'MAIL FROM:<a b@x>',
               'MAIL FROM:<a@x.test> FOO=bar', 'MAIL FROM:<a@x.test> SIZE=abc', 'MAIL FROM:<a@x.test> BODY=9BIT',
               'MAIL FROM:<a@x.test> RET=FULL RET=HDRS', 'MAIL FROM:<a@x.test> ENVID=x ENVID=y',
               # Postfix keeps a refused MAIL's SIZE= until RSET (a later MAIL without SIZE gets
               # 552 too); Postern does not copy that quirk, so the dialogue resets in between.
               'MAIL FROM:<a@x.test> SIZE=999999999999', 'RSET', 'MAIL FROM:<>', 'RCPT', 'RCPT TO:',
               'RCPT TO:<u@mx.example.test> NOTIFY=BOGUS', 'RCPT TO:<u@mx.example.test> ORCPT=bad',
               'RCPT TO:<u@mx.example.test> FOO=1', 'RCPT TO:<u@elsewhere.example>', 'QUIT'],
    'misc': ['NOOP', 'NOOP x', 'RSET x', 'VRFY', 'VRFY u', 'VRFY u@mx.example.test', 'EXPN u', 'HELP', 'TURN',
             'ETRN', 'ETRN x.test', 'XYZZY', '', 'QUIT x'],
    'unrelay': ['EHLO c.example', 'MAIL FROM:<a@x.test>', 'RCPT TO:<u%other.example@mx.example.test>',
                'RCPT TO:<@mx.example.test:u@other.example>', 'RCPT TO:<u@other.example.>',
                'RCPT TO:<"u@other.example"@mx.example.test>', 'RCPT TO:<u@[192.0.2.1]>', 'QUIT'],
    'bdat': ['EHLO c.example', 'BDAT 1', 'MAIL FROM:<a@x.test>', 'BDAT x', 'RCPT TO:<u@mx.example.test>',
             'DATA', 'BDAT 0 LAST', 'QUIT'],
    'forbidden': ['EHLO c.example', 'CONNECT x:25 HTTP/1.0'],
}

QUEUE_ID = re.compile(r'\bqueued as [0-9A-Za-z]+')


def transcript(port: int, cmds: list) -> list:
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    f = s.makefile('rb')

    def reply() -> list:
        out = []
        for _ in range(100):
            line = f.readline().decode('utf-8', 'replace').rstrip('\r\n')
            out.append(line)
            if len(line) < 4 or line[3] != '-':
                break
        return out

    lines = ['S: ' + l for l in reply()]
    for c in cmds:
        # A command starting with '.' is raw DATA content (sent as is).
        payload = c[1:] if c.startswith('.') else c
        try:
            s.sendall((payload + '\r\n').encode())
            r = reply()
        except OSError as e:
            lines.append('C: ' + c + '  [' + type(e).__name__ + ']')
            break
        lines.append('C: ' + c)
        lines += ['S: ' + l for l in r]
        # After a hang-up (221 or nothing) what follows is a race between reset and EOF.
        if r == [''] or r[-1].startswith('221 '):
            break
    s.close()
    return [QUEUE_ID.sub('queued as QUEUEID', l).replace('ESMTP Postfix', 'ESMTP Postern') for l in lines]


def main() -> int:
    a, b = int(sys.argv[1]), int(sys.argv[2])
    differ = False
    for name, cmds in DIALOGUES.items():
        ta, tb = transcript(a, cmds), transcript(b, cmds)
        d = list(difflib.unified_diff(ta, tb, f'postfix/{name}', f'postern/{name}', lineterm='', n=1))
        if d:
            differ = True
            print('\n'.join(d))
        else:
            print(f'= {name}: identical ({len(ta)} lines)')
    return 1 if differ else 0


if __name__ == '__main__':
    sys.exit(main())
