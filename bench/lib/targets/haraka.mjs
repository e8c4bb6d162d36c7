// Haraka (installed from npm into bench/out/haraka by bench/run.sh) as a
// server under test: one throwaway instance directory per run (`haraka -i`),
// listening on a loopback port. ingest/lookup end in queue/discard (Haraka
// queues nothing to disk there); relay goes through Haraka's own on-disk
// outbound queue, routed to the sink by smtp_forward's per-domain route.
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Meter } from '../meter.mjs';
import { cidrEntries, regexpEntries, senderEntries } from '../postfix-config.mjs';
import { run, startIn, until, waitForGreeting } from '../util.mjs';

const HOME = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'out', 'haraka');
const BIN = join(HOME, 'node_modules', 'Haraka', 'bin', 'haraka');
export const HARAKA_NODES = process.env.HARAKA_NODES ?? '';

async function configure(dir, scn, env) {
  const c = (f, text) => writeFile(join(dir, 'config', f), text);
  const smtp = [`listen=127.0.0.1:${env.port}`, 'inactivity_timeout=300'];
  if (HARAKA_NODES) smtp.push(`nodes=${HARAKA_NODES}`);
  await c('smtp.ini', smtp.join('\n') + '\n');
  await c('me', 'bench.localdomain\n');
  await c('log.ini', '[main]\nlevel=info\ntimestamps=true\n');
  await c('host_list', 'example.com\n');
  const plugins = [];
  if (scn.mode === 'relay') {
    plugins.push('relay', 'queue/smtp_forward');
    await c('relay.ini', '[relay]\nacl=true\nforce_routing=false\n');
    await c('relay_acl_allow', '127.0.0.0/8\n');
    await c('smtp_forward.ini', `[main]\nenable_tls=false\n\n[example.com]\nhost=127.0.0.1\nport=${env.sinkPort}\n`);
    await c('outbound.ini', 'enable_tls=false\n');
  } else {
    if (scn.lookup) {
      plugins.push('access');
      await c('access.ini', '[check]\nany=false\nconn=true\nmail=true\nrcpt=true\n');
      await c(
        'connect.rdns_access.blacklist',
        cidrEntries()
          .map((n) => n.replace(/0\/24$/, '1'))
          .join('\n') + '\n',
      );
      await c('mail_from.access.blacklist', senderEntries().join('\n') + '\n');
      await c('rcpt_to.access.blacklist_regex', regexpEntries().join('\n') + '\n');
    }
    plugins.push('rcpt_to.in_host_list', 'queue/discard');
  }
  await c('plugins', plugins.join('\n') + '\n');
}

export const haraka = {
  name: `Haraka ${HARAKA_NODES ? `(nodes=${HARAKA_NODES})` : '(nodes unset: 1 worker)'}`,
  label: 'haraka',
  supports(scn) {
    if (!existsSync(BIN)) return 'Haraka is not installed (bench/run.sh installs it)';
    if (scn.mode === 'local') return 'Haraka has no local delivery agent';
    if (scn.mode === 'submit') return 'Haraka has no sendmail command';
    return true;
  },
  async start(scn, env) {
    const dir = join(env.out, `haraka-${scn.id}-${env.round}`);
    await rm(dir, { recursive: true, force: true });
    const init = await run('node', [BIN, '-i', dir]);
    if (init.code !== 0) throw new Error(`haraka -i failed: ${init.stderr}`);
    await configure(dir, scn, env);
    const meter = await Meter.create('haraka');
    const logFile = join(dir, 'haraka.log');
    const { openSync } = await import('node:fs');
    const fd = openSync(logFile, 'a');
    const child = startIn(meter, process.execPath, [BIN, '-c', dir], {
      cwd: dir,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, YES_REALLY_DO_DISCARD: '1' },
    });
    const up = await waitForGreeting(env.port, 30000);
    const queueDir = join(dir, 'queue');
    const inst = {
      port: env.port,
      meter,
      dir,
      async drained(n, timeoutMs) {
        // Relay completion is the sink's count; for discard everything is done at 250.
        if (scn.mode === 'relay') {
          await until(
            async () => (await readdir(queueDir).catch(() => [])).filter((f) => !f.startsWith('.')).length === 0,
            timeoutMs,
            200,
          );
        }
        return { delivered: n, failed: 0, lastFailure: '' };
      },
      async stop() {
        child.kill('SIGTERM');
        await until(async () => (await meter.pids()).length === 0, 15000, 100);
        await meter.close();
      },
      async logTail() {
        const { readFile } = await import('node:fs/promises');
        return (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
      },
    };
    if (!up) {
      const tail = await inst.logTail();
      await inst.stop();
      throw new Error(`Haraka did not greet on 127.0.0.1:${env.port}\n${tail}`);
    }
    return inst;
  },
};
