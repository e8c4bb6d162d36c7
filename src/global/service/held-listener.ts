// Connections that arrive on a listening socket while no service is attached
// to it (before start() resolves, during a reload restart) are held here and
// handed over once a service is attached, instead of being accepted and lost.
import type { Server, Socket } from 'node:net';

/** More held connections than this are closed at once (a stuck start must not pile up sockets). */
const MAX_HELD = 256;

export class HeldListener {
  private readonly held: Socket[] = [];
  private readonly hold = (s: Socket): void => {
    if (this.held.length >= MAX_HELD) s.destroy();
    else this.held.push(s);
  };

  constructor(readonly server: Server) {
    server.on('connection', this.hold);
  }

  /** Detach every handler and hold new connections again (service stopping or restarting). */
  pause(): void {
    this.server.removeAllListeners('connection');
    this.server.on('connection', this.hold);
  }

  /** The service has attached its handlers: replay what was held. */
  release(): void {
    this.server.removeListener('connection', this.hold);
    const queued = this.held.splice(0);
    for (const s of queued) {
      if (this.server.listenerCount('connection') > 0) this.server.emit('connection', s);
      else s.destroy();
    }
  }

  close(): void {
    this.server.removeAllListeners('connection');
    for (const s of this.held.splice(0)) s.destroy();
    this.server.close();
  }
}
