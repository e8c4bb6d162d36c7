// Golden driver for the restriction evaluator: each file in golden/ holds a
// main.cf fragment, table contents, DNS records and `check` lines followed by
// the expected `=>` lines (verdict, reply, log text, lines logged). The driver
// recomputes every `=>` line and diffs the whole file. Set UPDATE_GOLDEN=1 to
// rewrite the files after a deliberate change (then review the diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config } from '../../src/global/params/config.js';
import { MemoryLogger } from '../../src/global/log/memory-logger.js';
import { FatalError } from '../../src/global/log/logger.js';
import { createSmtpdPolicy } from '../../src/daemons/smtpd/restrictions/index.js';
import type { DnsType } from '../../src/daemons/smtpd/restrictions/index.js';
import type { RestrictionStage, SessionFacts } from '../../src/daemons/smtpd/policy-api.js';
import { DictSet, FakeResolver, facts } from './harness.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const dir = join(root, 'test', 'restrictions', 'golden');

/** Defaults every golden file starts from, so results do not depend on this host. */
const BASE = [
  'compatibility_level = 3.7',
  'myhostname = mail.example.com',
  'mydomain = example.com',
  'mynetworks = 127.0.0.0/8 [::1]/128',
  'inet_interfaces = all',
  'alias_maps = hash:/etc/aliases',
  'local_recipient_maps = hash:passwd $alias_maps',
].join('\n');

function parseFacts(words: readonly string[]): SessionFacts {
  const f: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const k = eq < 0 ? w : w.slice(0, eq);
    const v = eq < 0 ? 'yes' : w.slice(eq + 1);
    switch (k) {
      case 'client':
        f.clientAddr = v;
        break;
      case 'name':
        f.clientName = v;
        f.reverseClientName ??= v;
        break;
      case 'rname':
        f.reverseClientName = v;
        break;
      case 'helo':
        f.helo = v;
        break;
      case 'smtp':
        f.esmtp = false;
        break;
      case 'sender':
        f.sender = v === '<>' ? '' : v;
        break;
      case 'rcpt':
        f.recipient = v;
        break;
      case 'count':
        f.recipientCount = Number(v);
        break;
      case 'sasl':
        f.saslUsername = v;
        f.saslMethod = 'PLAIN';
        break;
      case 'tls':
        f.tls = true;
        break;
      case 'pipelined':
        f.pipelinedEarly = true;
        break;
      case 'etrn':
        f.etrnDomain = v;
        break;
      case 'queue':
        f.queueId = v;
        break;
      default:
        throw new Error(`unknown fact ${k}`);
    }
  }
  return facts(f);
}

async function run(text: string): Promise<string> {
  const lines = text.split('\n');
  const out: string[] = [];
  const cf: string[] = [BASE];
  const dicts = new DictSet();
  const dns = new FakeResolver();
  let section = '';
  let table = '';
  let policy: ReturnType<typeof createSmtpdPolicy> | undefined;
  const logger = new MemoryLogger('postfix/smtpd');
  const build = () => {
    try {
      policy ??= createSmtpdPolicy({
        config: Config.fromText(cf.join('\n')),
        openDict: dicts.opener,
        resolver: dns,
        logger,
        localAddresses: ['127.0.0.1', '::1', '192.0.2.1'],
      });
    } catch (e) {
      if (!(e instanceof FatalError)) throw e;
    }
    return policy;
  };
  for (const line of lines) {
    if (line.startsWith('=>')) continue;
    out.push(line);
    if (line.startsWith('#') || line.trim() === '') continue;
    const header = /^\[([\w.]+)(?:\s+(.*))?\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      table = header[2] ?? '';
      // A later main.cf section changes the configuration for the checks after it.
      if (section === 'main.cf') policy = undefined;
      continue;
    }
    if (section === 'main.cf') cf.push(line);
    else if (section === 'table') {
      const m = /^(\S+)\s+(.*)$/.exec(line);
      if (m) dicts.get(table).set(m[1] ?? '', m[2] ?? '');
    } else if (section === 'dns') {
      const [name = '', type = 'A', ...rest] = line.trim().split(/\s+/);
      const answer = rest[0] === 'tempfail' ? { status: 'tempfail' as const, reason: 'SERVFAIL' } : rest;
      dns.set(name, type as DnsType, answer);
    } else if (section === 'checks') {
      const [, stage = '', ...words] = line.trim().split(/\s+/);
      const before = logger.lines.length;
      const p = build();
      if (!p) {
        out.push(
          ...logger
            .texts()
            .slice(before)
            .map((t) => `=> logged: ${t}`),
        );
        continue;
      }
      const v = await p.check(stage as RestrictionStage, parseFacts(words));
      if (v.action === 'reject') out.push(`=> ${v.reply.code} ${v.reply.dsn} ${v.reply.text}`, `=> log ${v.logText}`);
      else if (v.action === 'accept-with')
        out.push(`=> accept-with ${v.effects.map((e) => JSON.stringify(e)).join(' ')}`);
      else out.push(`=> ${v.action}`);
      out.push(
        ...logger
          .texts()
          .slice(before)
          .map((t) => `=> logged: ${t}`),
      );
    }
  }
  return out.join('\n');
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt'))) {
  test(`golden ${file}`, async () => {
    const path = join(dir, file);
    const expected = readFileSync(path, 'utf8');
    const actual = await run(expected);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
    else assert.equal(actual, expected);
  });
}
