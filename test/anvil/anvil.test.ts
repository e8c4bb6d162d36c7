// anvil's counting model: concurrent connections per client, and event
// rates in windows of anvil_rate_time_unit that start at the first event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Anvil } from '../../src/daemons/anvil/anvil.js';

test('connection count goes up and down per service and client', () => {
  const a = new Anvil({ rateTimeUnitMs: 60_000, now: () => 0 });
  assert.equal(a.connect('smtp', '192.0.2.1').count, 1);
  assert.equal(a.connect('smtp', '192.0.2.1').count, 2);
  assert.equal(a.connect('submission', '192.0.2.1').count, 1);
  assert.equal(a.connect('smtp', '192.0.2.2').count, 1);
  a.disconnect('smtp', '192.0.2.1');
  assert.equal(a.connect('smtp', '192.0.2.1').count, 2);
});

test('rates reset when the window has passed', () => {
  let t = 1000;
  const a = new Anvil({ rateTimeUnitMs: 60_000, now: () => t });
  assert.equal(a.connect('smtp', 'x').rate, 1);
  assert.equal(a.connect('smtp', 'x').rate, 2);
  assert.equal(a.message('smtp', 'x'), 1);
  assert.equal(a.message('smtp', 'x'), 2);
  assert.equal(a.recipient('smtp', 'x'), 1);
  t += 59_999;
  assert.equal(a.message('smtp', 'x'), 3);
  t += 1;
  assert.equal(a.message('smtp', 'x'), 1);
  assert.equal(a.connect('smtp', 'x').rate, 1);
});

test('idle clients are swept, connected ones kept', () => {
  let t = 0;
  const a = new Anvil({ rateTimeUnitMs: 1000, now: () => t });
  a.connect('smtp', 'gone');
  a.disconnect('smtp', 'gone');
  a.connect('smtp', 'still-here');
  t = 5000;
  a.sweep();
  assert.equal(a.size(), 1);
  assert.equal(a.connect('smtp', 'still-here').count, 2);
});
