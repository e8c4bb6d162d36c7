// Debian's smtp-sink as the server under test of the `limit` scenario (the
// loopback ceiling: no MTA at all), and as the far end of `relay`. With -M it
// exits after the given number of messages, which is how the harness knows a
// relay run has delivered everything.
import { Meter } from '../meter.mjs';
import { startIn, waitForGreeting } from '../util.mjs';

/** Starts smtp-sink on `port`; `meter` (optional) accounts its CPU and memory. */
export async function startSink(port, { meter, quitAfter } = {}) {
  const args = ['-u', 'postfix', ...(quitAfter ? ['-M', String(quitAfter)] : []), `127.0.0.1:${port}`, '1024'];
  const child = startIn(meter, '/usr/sbin/smtp-sink', args);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  if (!(await waitForGreeting(port, 10000))) throw new Error(`smtp-sink did not start: ${err}`);
  return { child, exited, stop: () => child.kill('SIGTERM') };
}

export const sink = {
  name: 'smtp-sink (no MTA)',
  label: 'sink',
  supports(scn) {
    return scn.mode === 'limit' ? true : 'only the limit scenario';
  },
  async start(scn, env) {
    const meter = await Meter.create('sink');
    // The greeting probe counts as a session, not a message, so -M N is exact.
    const s = await startSink(env.port, { meter, quitAfter: undefined });
    return {
      port: env.port,
      meter,
      async drained(n) {
        return { delivered: n, failed: 0, lastFailure: '' };
      },
      async stop() {
        s.stop();
        await meter.close();
      },
      async logTail() {
        return '';
      },
    };
  },
};
