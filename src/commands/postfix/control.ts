// The life-cycle commands of postfix(1), as postfix-script does them: start
// (detached master), start-fg, stop, abort, reload, status. Messages and exit
// codes follow postfix-script (`postfix/postfix-script: ...` in the log and on
// stderr).
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../global/log/logger.js';
import type { Config } from '../../global/params/config.js';
import { runMaster } from '../../daemons/master/master.js';
import { isMasterAlive, pidFilePath, runningMaster } from '../../daemons/master/pid-file.js';

const MASTER_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'daemons', 'master', 'main.js');
/** How long `postfix start` waits for master to report that it is up. */
const START_TIMEOUT_MS = 60_000;
/** How long `postfix stop` waits before it uses force, as postfix-script does. */
const STOP_WAIT_MS = 30_000;

export interface ControlContext {
  readonly configDir: string;
  readonly config: Config;
  readonly log: Logger;
}

function pidFile(ctx: ControlContext): string {
  return pidFilePath(ctx.config.get('queue_directory'), ctx.config.get('process_id_directory'));
}

/** Logs a fatal line (log + stderr) and returns postfix-script's exit status 1. */
function fatal(log: Logger, text: string): number {
  try {
    log.fatal(text);
  } catch {
    // fatal() throws by design
  }
  return 1;
}

export function status(ctx: ControlContext): number {
  const pid = runningMaster(pidFile(ctx));
  if (pid === undefined) {
    ctx.log.info('the Postfix mail system is not running');
    return 1;
  }
  ctx.log.info(`the Postfix mail system is running: PID: ${pid}`);
  return 0;
}

export async function start(ctx: ControlContext): Promise<number> {
  const running = runningMaster(pidFile(ctx));
  if (running !== undefined) return fatal(ctx.log, 'the Postfix mail system is already running');
  ctx.log.info('starting the Postfix mail system');
  const child = fork(MASTER_MAIN, ['-c', ctx.configDir], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    cwd: '/',
  });
  const outcome = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve('master did not report within 60s'), START_TIMEOUT_MS);
    child.on('message', (m: { ready?: unknown; error?: unknown }) => {
      clearTimeout(timer);
      resolve(m.ready === true ? undefined : typeof m.error === 'string' ? m.error : 'unknown error');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(`master exited with status ${code}`);
    });
  });
  child.removeAllListeners();
  if (child.connected) child.disconnect();
  child.unref();
  if (outcome !== undefined) return fatal(ctx.log, `mail system startup failed: ${outcome}`);
  return 0;
}

export async function startForeground(ctx: ControlContext): Promise<number> {
  const running = runningMaster(pidFile(ctx));
  if (running !== undefined) return fatal(ctx.log, 'the Postfix mail system is already running');
  ctx.log.info('starting the Postfix mail system');
  let failure: Error | undefined;
  const code = await runMaster({ configDir: ctx.configDir, onReady: (err) => (failure = err) });
  if (failure) return fatal(ctx.log, `mail system startup failed: ${failure.message}`);
  return code;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isMasterAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isMasterAlive(pid);
}

function signalMaster(ctx: ControlContext, signal: NodeJS.Signals): number | undefined {
  const pid = runningMaster(pidFile(ctx));
  if (pid === undefined) return undefined;
  process.kill(pid, signal);
  return pid;
}

function notRunning(ctx: ControlContext): number {
  return fatal(ctx.log, 'the Postfix mail system is not running');
}

export async function stop(ctx: ControlContext): Promise<number> {
  if (runningMaster(pidFile(ctx)) === undefined) return notRunning(ctx);
  ctx.log.info('stopping the Postfix mail system');
  const pid = signalMaster(ctx, 'SIGTERM');
  if (pid === undefined || (await waitGone(pid, STOP_WAIT_MS))) return 0;
  ctx.log.warning('stopping the Postfix mail system with force');
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  return 0;
}

export async function abort(ctx: ControlContext): Promise<number> {
  if (runningMaster(pidFile(ctx)) === undefined) return notRunning(ctx);
  ctx.log.info('aborting the Postfix mail system');
  const pid = signalMaster(ctx, 'SIGQUIT');
  if (pid !== undefined) await waitGone(pid, STOP_WAIT_MS);
  return 0;
}

export function reload(ctx: ControlContext): number {
  if (runningMaster(pidFile(ctx)) === undefined) return notRunning(ctx);
  ctx.log.info('refreshing the Postfix mail system');
  signalMaster(ctx, 'SIGHUP');
  return 0;
}

/** `postfix flush` is `postqueue -c $config_directory -f`, as Postfix's postfix-script runs it. */
export async function flush(ctx: ControlContext): Promise<number> {
  const { main: postqueue } = await import('../postqueue/main.js');
  return postqueue(['-c', ctx.configDir, '-f'], 'postqueue');
}
