// postern_smtpd_workers: 0 by default; auto follows the number of cores; 0 and 1 are taken
// as given; anything else is named in a warning and replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../src/global/params/config.js';
import { smtpdWorkers } from '../../src/daemons/master/smtpd-workers.js';

const cfg = (v?: string): Config => Config.fromText(v === undefined ? '' : `postern_smtpd_workers = ${v}\n`);

test('the default is sessions in the core; auto is one smtpd process on two or more cores, none on one', () => {
  assert.deepEqual(smtpdWorkers(cfg(), 8), { workers: 0 });
  assert.deepEqual(smtpdWorkers(cfg('auto'), 2), { workers: 1 });
  assert.deepEqual(smtpdWorkers(cfg('auto'), 8), { workers: 1 });
  assert.deepEqual(smtpdWorkers(cfg('auto'), 1), { workers: 0 });
  assert.deepEqual(smtpdWorkers(cfg('AUTO'), 1), { workers: 0 });
});

test('0 and 1 are taken as given whatever the machine; other values warn', () => {
  assert.deepEqual(smtpdWorkers(cfg('0'), 4), { workers: 0 });
  assert.deepEqual(smtpdWorkers(cfg('1'), 1), { workers: 1 });
  const many = smtpdWorkers(cfg('4'), 4);
  assert.equal(many.workers, 1);
  assert.match(many.warning ?? '', /postern_smtpd_workers = 4: at most one smtpd process is supported; using 1/);
  const bad = smtpdWorkers(cfg('lots'), 1);
  assert.equal(bad.workers, 0);
  assert.match(bad.warning ?? '', /postern_smtpd_workers = lots: expected auto, 0 or 1; using auto \(0\)/);
});
