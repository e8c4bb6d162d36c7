// The master(8) program as its own process, started detached by `postfix
// start`: `main.js -c config_dir`. It tells the starting command over IPC
// whether the mail system came up, then cuts the channel and runs on.
import { runMaster } from './master.js';

function configDirArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('-c');
  return i >= 0 ? argv[i + 1] : undefined;
}

const configDir = configDirArg(process.argv.slice(2));
if (!configDir) {
  process.stderr.write('postfix/master: fatal: usage: master -c config_dir\n');
  process.exit(1);
}

const report = (msg: { ready: boolean; error?: string }): void => {
  if (!process.connected) return;
  process.send?.(msg, () => process.disconnect());
};

runMaster({
  configDir,
  onReady: (err) => report(err ? { ready: false, error: err.message } : { ready: true }),
}).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`postfix/master: fatal: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
