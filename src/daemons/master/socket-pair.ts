// Node has no socketpair(2): master makes the core ↔ delivery channel by
// connecting to a listener on a Unix socket in a fresh directory only its own
// user can enter, keeping both ends and removing the socket at once. The ends
// are then passed to the two workers, so nothing else can ever connect to
// the privileged delivery process.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pair-')); // mode 0700
  const path = join(dir, 's');
  const server = createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect({ path });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    client.pause();
    return [client, await accepted];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
