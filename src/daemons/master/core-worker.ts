// The core worker process (docs/ARCHITECTURE.md, "Processes and privileges"):
// forked by master, running as $mail_owner when master is root. It hosts every
// master.cf service as a module (global/service/service-host.ts) and obeys
// master over the IPC channel: configure (start/reload), listener (a socket
// handle for an inet service), stop. If master goes away, it stops at once.
import type { Server, Socket } from 'node:net';
import { stderrLogger } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import { loadConfig } from '../../global/params/config.js';
import { workerLogger } from './worker-logger.js';
import { ServiceHost } from '../../global/service/service-host.js';
import { CLEANUP_SERVICE, QUEUE_FLUSHER } from '../../global/queue/service-keys.js';
import { deliveryLink } from '../delivery/core-link.js';
import { CleanupLink } from '../smtpd-worker/cleanup-link.js';
import { serveSmtpdLink } from '../smtpd-worker/core-link-server.js';
import { VERIFY_SERVICE } from '../verify/verify-api.js';
import { decodeMasterMessage, fromWire, type MasterToWorker, type WorkerToMaster } from './ipc.js';

let log: Logger = stderrLogger('postfix/master');
let host: ServiceHost | undefined;
const pendingListeners = new Map<string, Server[]>();
let queue: Promise<void> = Promise.resolve();
let stopping = false;
/** `smtpd`: this process hosts only smtpd services and reaches cleanup in the core worker over a channel. */
const role = process.argv[2] === 'smtpd' ? 'smtpd' : 'core';
const cleanupLink = role === 'smtpd' ? new CleanupLink(stderrLogger('postfix/smtpd')) : undefined;
/** ETRN reaches qmgr over the link: offered to smtpd only while the link is up. */
function offerFlusher(): void {
  if (!host || !cleanupLink) return;
  if (cleanupLink.connected) host.directory.provide(QUEUE_FLUSHER, cleanupLink);
  else host.directory.withdraw(QUEUE_FLUSHER, cleanupLink);
}
if (cleanupLink) cleanupLink.onState = offerFlusher;

function send(msg: WorkerToMaster): void {
  if (process.connected) process.send?.(msg);
}

async function configure(msg: Extract<MasterToWorker, { type: 'configure' }>): Promise<void> {
  const config = loadConfig(msg.configDir);
  log = workerLogger(config, log);
  // channel warnings go to the mail log, as smtpd's (the link is smtpd's view of cleanup)
  cleanupLink?.setLogger(log.child('smtpd'));
  if (!host) {
    host = new ServiceHost(log);
    if (cleanupLink) {
      host.directory.provide(CLEANUP_SERVICE, cleanupLink);
      host.directory.provide(VERIFY_SERVICE, cleanupLink.verifier);
    }
    offerFlusher();
  }
  const listeners = new Map(pendingListeners);
  pendingListeners.clear();
  const summary = await host.apply(config, msg.entries.map(fromWire), listeners);
  // sockets for entries that are not in the list (should not happen) must not leak
  for (const [id, servers] of listeners) {
    if (!msg.entries.some((e) => `${e.name}/${e.type}` === id)) for (const s of servers) s.close();
  }
  send({ type: 'ready', ...summary });
}

async function stop(graceful: boolean): Promise<void> {
  if (stopping) return;
  stopping = true;
  await host?.stopAll(graceful);
  deliveryLink.close();
  cleanupLink?.close();
  send({ type: 'stopped' });
  process.disconnect?.();
  // Sessions of services that ignored stop() must not keep the process alive.
  setTimeout(() => process.exit(0), 100).unref();
}

function onMessage(raw: unknown, handle: unknown): void {
  const msg = decodeMasterMessage(raw);
  if (!msg) {
    log.warning('core worker: ignoring malformed message from master');
    return;
  }
  if (msg.type === 'channel') {
    const socket = handle as Socket | undefined;
    if (!socket || typeof socket.write !== 'function') {
      log.warning('core worker: channel message without a socket');
      return;
    }
    if (!msg.peer) deliveryLink.setChannel(socket, log);
    else if (cleanupLink) cleanupLink.setChannel(socket);
    else
      serveSmtpdLink(socket, {
        cleanup: () => host?.directory.get(CLEANUP_SERVICE),
        flusher: () => host?.directory.get(QUEUE_FLUSHER),
        verify: () => host?.directory.get(VERIFY_SERVICE),
        log: log.child('cleanup'),
      });
    return;
  }
  if (msg.type === 'listener') {
    const server = handle as Server | undefined;
    if (!server || typeof server.listen !== 'function') {
      log.warning(`core worker: listener message for ${msg.service} without a socket`);
      return;
    }
    const list = pendingListeners.get(msg.service) ?? [];
    list.push(server);
    pendingListeners.set(msg.service, list);
    return;
  }
  queue = queue
    .then(() => (msg.type === 'configure' ? configure(msg) : stop(msg.graceful)))
    .catch((e: unknown) => {
      log.error(`core worker: ${(e as Error).message}`);
      process.exit(1);
    });
}

// master runs a delivery process next to this worker: local, virtual and pipe go there.
deliveryLink.enabled = role === 'core';
process.on('message', onMessage);
// master died or closed the channel: nothing may run without it (Postfix children exit too).
process.on('disconnect', () => {
  queue = queue.then(() => stop(false));
});
process.on('uncaughtException', (e) => {
  log.error(`core worker: uncaught exception: ${e.stack ?? e.message}`.slice(0, 2000));
  process.exit(1);
});
