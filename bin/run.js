// Shared launcher for the thin executables in bin/: loads the compiled command
// from dist/ and turns its result into the process exit status. Kept as
// CommonJS so that the extensionless bin scripts run on every Node 20 release.
'use strict';
const path = require('node:path');

module.exports = function run(command, progName, extraArgs) {
  const file = path.join(__dirname, '..', 'dist', 'src', 'commands', command, 'main.js');
  const argv = (extraArgs || []).concat(process.argv.slice(2));
  import(file)
    .then((mod) => mod.main(argv, progName))
    .then(
      (code) => {
        if (typeof code === 'number') process.exitCode = code;
      },
      (err) => {
        const text = err && err.message ? err.message : String(err);
        process.stderr.write(`${progName}: fatal: ${text}\n`);
        process.exitCode = 1;
      },
    );
};
