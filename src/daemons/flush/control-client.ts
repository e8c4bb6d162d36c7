// The tools' side of the queue control channel (control-protocol.ts): send
// one request to the running mail system. `down` means nothing listens (the
// mail system is not running), which callers turn into Postfix's messages
// or into working on the queue directly.
import { connect } from 'node:net';
import { join } from 'node:path';
import { decodeAnswer, type ControlAnswer, type ControlRequest } from './control-protocol.js';

export type ControlResult = { readonly down: true } | { readonly down: false; readonly answer: ControlAnswer };

const TIMEOUT_MS = 120_000;

export function sendControl(queueDirectory: string, socket: string, req: ControlRequest): Promise<ControlResult> {
  const path = join(queueDirectory, socket);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    let connected = false;
    sock.setTimeout(TIMEOUT_MS, () => {
      sock.destroy();
      reject(new Error(`timeout waiting for an answer on ${path}`));
    });
    sock.on('connect', () => {
      connected = true;
      sock.end(`${JSON.stringify(req)}\n`);
    });
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.length > 64 * 1024 * 1024) sock.destroy(new Error(`answer on ${path} too long`));
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) resolve({ down: true });
      else reject(new Error(`${path}: ${err.message}`));
    });
    sock.on('end', () => {
      const answer = decodeAnswer(buf.split('\n')[0] ?? '');
      if (answer) resolve({ down: false, answer });
      else reject(new Error(`malformed answer on ${path}`));
    });
  });
}
