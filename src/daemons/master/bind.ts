// Binding inet listeners in master, which may be root (port 25); the sockets
// are then handed to the unprivileged core worker and closed here, so master
// itself never accepts a connection.
import { createServer, type Server } from 'node:net';
import type { Endpoint } from './inet-endpoints.js';

export function bindEndpoint(e: Endpoint): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const host = e.host.includes(':') ? `[${e.host}]` : e.host;
      reject(
        new Error(`bind ${host} port ${e.port}: ${err.code === 'EADDRINUSE' ? 'Address already in use' : err.message}`),
      );
    });
    server.listen({ host: e.host, port: e.port, ipv6Only: e.ipv6Only, backlog: 511 }, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}
