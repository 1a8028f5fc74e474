import type { Test } from 'tap';
import { requireDocker } from './docker.js';

export type DriverName = 'docker' | 'process';

/** The drivers the integration suite runs against: HEARTH_TEST_DRIVERS (comma-separated), default both. */
export const DRIVERS: readonly DriverName[] = (process.env.HEARTH_TEST_DRIVERS ?? 'docker,process')
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is DriverName => name === 'docker' || name === 'process');

/**
 * Runs `body` once per driver, each in its own subtest. The Docker run is gated
 * by requireDocker (fails under HEARTH_REQUIRE_DOCKER=1, skips otherwise); the
 * process driver needs only python3, which the daemon itself checks.
 */
export function eachDriver(t: Test, body: (t: Test, driver: DriverName) => Promise<void>): void {
  for (const driver of DRIVERS) {
    t.test(`${driver} driver`, async (t) => {
      if (driver === 'docker' && !(await requireDocker(t))) return;
      await body(t, driver);
    });
  }
}
