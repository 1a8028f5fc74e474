import Docker from 'dockerode';
import type { Test } from 'tap';

/** Why no Docker engine can be used here, or undefined when one answers. */
export async function dockerUnavailableReason(socketPath = '/var/run/docker.sock'): Promise<string | undefined> {
  try {
    await new Docker({ socketPath }).ping();
    return undefined;
  } catch (err) {
    return `no Docker engine answers at ${socketPath} (${(err as Error).message}); run scripts/ensure-docker.sh`;
  }
}

/**
 * Gate for a file of Docker tests: true when they can run. Without an engine
 * the file fails under HEARTH_REQUIRE_DOCKER=1 (CI) and is reported as
 * skipped, with the reason, otherwise — never counted as passed.
 */
export async function requireDocker(t: Test): Promise<boolean> {
  const reason = await dockerUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.HEARTH_REQUIRE_DOCKER === '1') t.fail(`HEARTH_REQUIRE_DOCKER=1 but ${reason}`);
  else t.plan(0, `skipped: ${reason}`);
  return false;
}
