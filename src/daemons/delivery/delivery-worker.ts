// The delivery process (docs/ARCHITECTURE.md, "Processes and privileges"):
// forked by master, as root when master is root, else as the invoking user.
// It hosts local(8), virtual(8) and pipe(8) for the master.cf entries master
// sends it, takes delivery requests only from the core worker over the
// channel master hands it, and makes every write as the recipient (the agents
// switch uid/gid per delivery; root itself never writes a mailbox). It opens
// no queue file (content arrives over the channel) and no connection of its
// own; only the lookup tables named in alias_maps and virtual_*_maps.
import type { Socket } from 'node:net';
import { stderrLogger } from '../../global/log/create-logger.js';
import type { Logger } from '../../global/log/logger.js';
import { loadConfig } from '../../global/params/config.js';
import { workerLogger } from '../master/worker-logger.js';
import { decodeMasterMessage, fromWire, type MasterToWorker, type WorkerToMaster } from '../master/ipc.js';
import { AgentHost } from './agent-host.js';
import { DeliveryServer } from './delivery-server.js';
import { DestinationGate, gatePolicy, type GatePolicy } from './destination-gate.js';

/** Longest wait for deliveries in progress at a graceful stop. */
const DRAIN_MS = 10_000;

let log: Logger = stderrLogger('postfix/master');
let agents: AgentHost | undefined;
let server: DeliveryServer | undefined;
let queue: Promise<void> = Promise.resolve();
/** One gate for every channel: deliveries still finishing on an old channel count against the limit too. */
const gate = new DestinationGate();
let policy: (transport: string) => GatePolicy = () => ({ limit: 0, perRecipient: false });
let stopping = false;

function send(msg: WorkerToMaster): void {
  if (process.connected) process.send?.(msg);
}

function configure(msg: Extract<MasterToWorker, { type: 'configure' }>): void {
  const config = loadConfig(msg.configDir);
  policy = gatePolicy(config);
  log = workerLogger(config, log);
  agents ??= new AgentHost(log);
  const { started, skipped } = agents.apply(config, msg.entries.map(fromWire));
  send({ type: 'ready', started, skipped, closed: [] });
}

async function stop(graceful: boolean): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (graceful && server) {
    await Promise.race([server.idle(), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
  }
  server?.close();
  send({ type: 'stopped' });
  process.disconnect?.();
  setTimeout(() => process.exit(0), 100).unref();
}

function onMessage(raw: unknown, handle: unknown): void {
  const msg = decodeMasterMessage(raw);
  if (!msg || msg.type === 'listener') {
    log.warning('delivery process: ignoring malformed message from master');
    return;
  }
  if (msg.type === 'channel') {
    const socket = handle as Socket | undefined;
    if (!socket || typeof socket.write !== 'function') {
      log.warning('delivery process: channel message without a socket');
      return;
    }
    server?.close();
    server = new DeliveryServer(socket, (service) => agents?.agentFor(service), log, {
      gate,
      policy: (transport) => policy(transport),
    });
    return;
  }
  queue = queue
    .then(() => (msg.type === 'configure' ? configure(msg) : stop(msg.graceful)))
    .catch((e: unknown) => {
      log.error(`delivery process: ${(e as Error).message}`);
      process.exit(1);
    });
}

process.on('message', onMessage);
process.on('disconnect', () => {
  queue = queue.then(() => stop(false));
});
process.on('uncaughtException', (e) => {
  log.error(`delivery process: uncaught exception: ${e.stack ?? e.message}`.slice(0, 2000));
  process.exit(1);
});
