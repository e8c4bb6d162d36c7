// sendmail's fallback when it may not write into maildrop/ itself: hand the
// message to the running pickup service over $queue_directory/public/pickup
// (a unix socket). The request is one line of JSON (the maildrop envelope
// and the content length) followed by the content; the answer is one line,
// `OK <queueid>` or `ERR <text>`. See daemons/pickup/drop-socket.ts.
import { connect } from 'node:net';
import type { MaildropEnvelope } from '../../global/queue/maildrop.js';
import { CommandFailure, EX_TEMPFAIL } from './sysexits.js';

const TIMEOUT_MS = 60_000;

export function submitThroughSocket(path: string, env: MaildropEnvelope, content: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let answer = '';
    const fail = (text: string): void => {
      sock.destroy();
      reject(new CommandFailure(text, EX_TEMPFAIL));
    };
    sock.setTimeout(TIMEOUT_MS, () => fail(`timeout talking to ${path}`));
    sock.on('error', (err) =>
      fail(
        `unable to create maildrop file: permission denied, and the mail system does not answer on ${path}: ${err.message}`,
      ),
    );
    sock.on('connect', () => {
      sock.write(`${JSON.stringify({ envelope: env, size: content.length })}\n`);
      sock.end(content);
    });
    sock.on('data', (d: Buffer) => {
      answer += d.toString('utf8');
      if (answer.length > 4096) fail(`malformed answer from ${path}`);
    });
    sock.on('end', () => {
      const line = answer.split('\n')[0] ?? '';
      if (line.startsWith('OK ')) resolve(line.slice(3).trim());
      else fail(line.startsWith('ERR ') ? line.slice(4) : `malformed answer from ${path}`);
    });
  });
}
