// Start helper for the smtpd worker e2e tests: freePort() cannot reserve the
// port it found, and test files (and other checkouts' tests) run in
// parallel, so a start that lost its port to someone else is tried again,
// with fresh ports, a bounded number of times.
import { startMailSystem, type E2eSystem } from './harness.js';

type StartOptions = Parameters<typeof startMailSystem>[0];

export async function startOnFreshPorts(options: () => StartOptions | Promise<StartOptions>): Promise<E2eSystem> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMailSystem(await options());
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test((e as Error).message)) throw e;
    }
  }
}
