import type { ScalingSettings } from './scaling-policy.js';

/** Per-module settings of the pool (DESIGN.md section 4). */
export interface PoolSettings extends ScalingSettings {
  /** One call's time limit; on expiry the instance is killed and replaced. Also bounds the wait in the queue. */
  readonly timeoutMs: number;
  /** Calls that may wait for a slot; beyond it calls are refused (429). */
  readonly maxQueue: number;
  /** How long a new instance may take to pass its health check. */
  readonly startTimeoutMs: number;
  /** SIGTERM → SIGKILL grace when an instance is stopped. */
  readonly stopGraceMs: number;
}
