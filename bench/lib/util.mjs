// Small helpers shared by the benchmark harness (bench/harness.mjs): free
// loopback ports, waiting for an SMTP greeting, running commands with
// /usr/bin/time, and the statistics the report prints (median, min, max).
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port the kernel just handed out on 127.0.0.1 (closed again before use). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first reply line of an SMTP server, or undefined on error/timeout. */
export function readGreeting(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const c = new Socket();
    let buf = '';
    const done = (v) => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(undefined), timeoutMs);
    c.once('error', () => done(undefined));
    c.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl).trim());
    });
    c.connect(port, '127.0.0.1');
  });
}

/** Polls until the server on `port` sends a 220 greeting; false after `timeoutMs`. */
export async function waitForGreeting(port, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const g = await readGreeting(port, 1000);
    if (g?.startsWith('220')) return true;
    await sleep(200);
  }
  return false;
}

/** Runs a command to completion; resolves {code, stdout, stderr}; never rejects. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 600000, ...opts }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

/**
 * Runs `argv` under /usr/bin/time (the public timer the figures rest on) and
 * returns wall seconds and the command's own user/system CPU seconds.
 */
export async function timed(argv, opts = {}) {
  const out = `${opts.tmpFile}`;
  const r = await run('/usr/bin/time', ['-o', out, '-f', '%e %U %S', ...argv], opts);
  const [wall, user, sys] = (await readFile(out, 'utf8')).trim().split('\n').pop().split(/\s+/).map(Number);
  return { ...r, wall, clientCpu: user + sys };
}

/** Starts a long-running process; `cgroup` (a Meter) gets it before exec. */
export function startIn(meter, cmd, args, opts = {}) {
  const join = meter ? meter.joinFiles.map((f) => `echo $$ > '${f}' && `).join('') : '';
  const script = `${join}exec "$@"`;
  return spawn('/bin/sh', ['-c', script, 'sh', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function minMax(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? [Math.min(...s), Math.max(...s)] : [NaN, NaN];
}

/** Waits for `check()` to return true, polling; false at the deadline. */
export async function until(check, timeoutMs, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return await check();
}
