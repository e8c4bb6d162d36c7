// Test harness for the smtp(8) client: starts peer.py (a scriptable Python
// SMTP/LMTP server) on loopback port 0, builds delivery requests and agents
// wired to a fake DNS server, and reads what the peer recorded.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { DnsClient } from '../../src/global/dns/client.js';
import { DnsResolver } from '../../src/global/dns/lookup.js';
import { SmtpAgent } from '../../src/daemons/smtp/agent.js';
import type { DeliveryRequest } from '../../src/global/queue/delivery-api.js';
import { DictRetryError, type Dict } from '../../src/global/dict/dict-api.js';
import type { Protocol } from '../../src/daemons/smtp/settings.js';

const here = dirname(fileURLToPath(import.meta.url));
/** peer.py lives in the source tree; tests run from dist/test/smtp. */
export const PEER = join(here, '..', '..', '..', 'test', 'smtp', 'peer.py');

export interface Peer {
  readonly port: number;
  readonly log: string;
  readonly proc: ChildProcess;
  records(): Promise<Record<string, unknown>[]>;
  stop(): void;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'postern-smtp-'));
}

export async function startPeer(options: Record<string, unknown>): Promise<Peer> {
  const dir = await tempDir();
  const log = join(dir, 'peer.log');
  const proc = spawn('python3', [PEER, JSON.stringify({ log, ...options })], { stdio: ['ignore', 'pipe', 'ignore'] });
  const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('peer did not start')), 10000);
    rl.once('line', (l) => {
      clearTimeout(t);
      resolve(l);
    });
    proc.once('exit', () => reject(new Error('peer exited')));
  });
  const port = Number.parseInt(first.split(' ')[1] ?? '0', 10);
  return {
    port,
    log,
    proc,
    async records() {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    stop() {
      proc.kill();
    },
  };
}

export function makeRequest(
  nexthop: string,
  recipients: string[],
  extra: Partial<DeliveryRequest> = {},
  content?: string,
): DeliveryRequest {
  const body = content ?? 'Subject: test\r\nFrom: a@client.test\r\n\r\nhello\r\n.leading dot\r\n';
  return {
    queueId: 'ABC123',
    transport: 'smtp',
    nexthop,
    sender: 'sender@client.test',
    recipients: recipients.map((address, index) => ({ address, original: address, index })),
    arrivalTime: Date.now(),
    size: Buffer.byteLength(body, 'latin1'),
    openContent: () => once(Buffer.from(body, 'latin1')),
    ...extra,
  };
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield await Promise.resolve(b);
}

export interface AgentSetup {
  readonly agent: SmtpAgent;
  readonly log: MemoryLogger;
}

export function makeAgent(
  mainCf: string,
  dnsPort?: number,
  protocol: Protocol = 'smtp',
  own: string[] = [],
): AgentSetup {
  const log = new MemoryLogger(`postfix/${protocol}`);
  const config = Config.fromText(`myhostname = client.test\ninet_interfaces = 127.0.0.250\n${mainCf}`);
  const resolver = new DnsResolver(
    new DnsClient({ servers: [{ host: '127.0.0.1', port: dnsPort ?? 9 }], timeoutMs: 500, attempts: 1 }),
  );
  const agent = new SmtpAgent({ config, protocol, log, resolver, ownAddresses: new Set(own) });
  return { agent, log };
}

/** Lookup tables for a test agent: `spec` → key → value, or `'fail'` for a table whose lookups fail temporarily. */
export type TestTables = Record<string, Record<string, string> | 'fail'>;

export function testOpenDict(tables: TestTables): (spec: string) => Promise<Dict> {
  return (spec) =>
    Promise.resolve({
      spec,
      lookup: (key: string) => {
        const t = tables[spec];
        if (t === 'fail') return Promise.reject(new DictRetryError(`${spec}: table unavailable`));
        return Promise.resolve(t?.[key]);
      },
      close: () => Promise.resolve(),
    });
}

/** An agent whose `type:name` tables are the given objects. */
export function makeTableAgent(mainCf: string, tables: TestTables, protocol: Protocol = 'smtp'): AgentSetup {
  const log = new MemoryLogger(`postfix/${protocol}`);
  const config = Config.fromText(`myhostname = client.test\ninet_interfaces = 127.0.0.250\n${mainCf}`);
  const agent = new SmtpAgent({ config, protocol, log, openDict: testOpenDict(tables), ownAddresses: new Set() });
  return { agent, log };
}
