// Wires a real Qmgr to the real trivial-rewrite and bounce modules, with the
// in-memory store, a fake clock, scripted agents and a capturing cleanup.
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { createRewriter } from '../../src/daemons/trivial-rewrite/trivial-rewrite.js';
import { createBounceService } from '../../src/daemons/bounce/bounce.js';
import { createErrorAgent } from '../../src/daemons/error/error.js';
import { createDiscardAgent } from '../../src/daemons/discard/discard.js';
import { Qmgr } from '../../src/daemons/qmgr/qmgr.js';
import type { DeliveryAgent } from '../../src/global/queue/delivery-api.js';
import type { Dict } from '../../src/global/dict/dict-api.js';
import type { AddressVerifier } from '../../src/daemons/verify/verify-api.js';
import { tableOpener } from '../trivial-rewrite/map-dict.js';
import { CapturingCleanup, FakeClock, ScriptedAgent } from './fakes.js';
import { MemoryStore } from './memory-store.js';

export const BASE_CF =
  'compatibility_level = 3.6\nmyhostname = mail.example.com\nmydomain = example.com\n' +
  'mydestination = $myhostname, localhost\n';

export interface Harness {
  clock: FakeClock;
  store: MemoryStore;
  logger: MemoryLogger;
  cleanup: CapturingCleanup;
  smtp: ScriptedAgent;
  local: ScriptedAgent;
  qmgr: Qmgr;
  /** The agents by transport name; a test may add one later (a service that starts late). */
  agents: Map<string, DeliveryAgent>;
  /** Log lines' text for a tag suffix (`qmgr`, `smtp`, `bounce`, ...). */
  lines(tag?: string): string[];
}

export async function harness(
  extraCf = '',
  opts: {
    tables?: Record<string, Dict>;
    maxproc?: (t: string) => number | undefined;
    start?: boolean;
    setup?: (s: MemoryStore) => void;
    /** The verify(8) service qmgr reports probe results to. */
    verify?: () => AddressVerifier | undefined;
  } = {},
): Promise<Harness> {
  const config = Config.fromText(BASE_CF + extraCf);
  const clock = new FakeClock();
  const store = new MemoryStore(() => clock.now());
  const logger = new MemoryLogger('postfix/qmgr');
  const cleanup = new CapturingCleanup();
  const smtp = new ScriptedAgent('smtp');
  const local = new ScriptedAgent('local', () => ({
    status: 'sent',
    dsn: '2.0.0',
    relay: 'local',
    reason: 'delivered to mailbox',
  }));
  const agents = new Map<string, DeliveryAgent>([
    ['smtp', smtp],
    ['relay', smtp],
    ['local', local],
    ['error', createErrorAgent()],
    ['retry', createErrorAgent()],
    ['discard', createDiscardAgent()],
  ]);
  const rewriter = createRewriter({
    config,
    openDict: tableOpener(opts.tables ?? {}),
    interfaceAddresses: new Set(['127.0.0.1']),
  });
  const qmgr = new Qmgr({
    config,
    store,
    resolve: (a, s, mode) => rewriter.resolve(a, s, mode),
    agentFor: (t) => agents.get(t),
    bounce: createBounceService({ config, cleanup, logger: logger.child('bounce'), now: () => clock.now() }),
    logger,
    clock,
    ...(opts.maxproc ? { maxproc: opts.maxproc } : {}),
    ...(opts.verify ? { verify: opts.verify } : {}),
  });
  opts.setup?.(store);
  if (opts.start !== false) await qmgr.start();
  return {
    clock,
    store,
    logger,
    cleanup,
    smtp,
    local,
    qmgr,
    agents,
    lines: (tag) => logger.lines.filter((l) => !tag || l.tag === `postfix/${tag}`).map((l) => l.text),
  };
}
