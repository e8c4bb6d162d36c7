// pickup(8) as a Postern service module (master.cf: `pickup fifo n - n 60 1
// pickup`): scans maildrop/ at start, whenever the directory changes
// (fs.watch, Postfix's fifo trigger), after each message through the postdrop
// socket, and every `wakeup` seconds as a fallback for file systems without
// change notification.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CLEANUP_SERVICE } from '../../global/queue/service-keys.js';
import { BOUNCE_SERVICE } from '../bounce/service.js';
import type { RunningService, ServiceContext, ServiceModule } from '../../global/service/service-api.js';
import { startDropSocket } from './drop-socket.js';
import { Pickup } from './pickup.js';

/** A scan that took files is followed by another; this bounds a burst. */
const MAX_RESCANS = 1000;

export const pickupService: ServiceModule = {
  async start(ctx: ServiceContext): Promise<RunningService> {
    const queueDirectory = ctx.config.get('queue_directory');
    const log = ctx.logger;
    const dropDir = join(queueDirectory, 'maildrop');
    await mkdir(dropDir, { recursive: true, mode: 0o730 });
    const pickup = new Pickup({
      queueDirectory,
      cleanup: () => ctx.directory.get(CLEANUP_SERVICE),
      logger: log,
      service: ctx.entry.name,
      bounce: () => ctx.directory.get(BOUNCE_SERVICE),
    });
    let stopped = false;
    let running: Promise<void> | undefined;
    let again = false;
    const trigger = (): void => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        for (let n = 0; n < MAX_RESCANS && !stopped; n++) {
          again = false;
          const taken = await pickup.scan();
          if (taken === 0 && !again) break;
        }
      })()
        .catch((err: unknown) => log.warning(`maildrop scan: ${(err as Error).message}`))
        .finally(() => {
          running = undefined;
          if (again && !stopped) trigger();
        });
    };
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dropDir, () => trigger());
      watcher.on('error', () => undefined);
    } catch (err) {
      log.warning(`cannot watch ${dropDir}: ${(err as Error).message}; relying on the wakeup timer`);
    }
    const wakeup = ctx.entry.wakeup > 0 ? ctx.entry.wakeup : 60;
    const timer = setInterval(trigger, wakeup * 1000);
    timer.unref();
    const drop = await startDropSocket({
      queueDirectory,
      sizeLimit: ctx.config.size('message_size_limit'),
      logger: log,
      onDropped: trigger,
    });
    trigger();
    return {
      async stop() {
        stopped = true;
        clearInterval(timer);
        watcher?.close();
        await new Promise<void>((resolve) => drop.close(() => resolve()));
        await running;
      },
    };
  },
};

export default pickupService;
