import type { InstanceSpec } from './driver.js';
import type { InstanceState } from './instance-state.js';
import type { Slot } from './slot.js';
import type { PoolSettings } from './pool-settings.js';

export interface PoolSnapshot {
  readonly module: string;
  readonly version: string;
  readonly settings: PoolSettings;
  readonly instances: readonly { id: string; state: InstanceState; inFlight: number; served: number; current: boolean }[];
  readonly byState: Readonly<Record<InstanceState, number>>;
  readonly inFlight: number;
  readonly queued: number;
  readonly coldStarts: number;
  readonly served: number;
  readonly rejected: number;
}

/** What GET /system/pools shows of one pool: instances by state, calls in flight and queued, counters. */
export function describePool(
  spec: InstanceSpec,
  settings: PoolSettings,
  slots: readonly Slot[],
  counters: { readonly queued: number; readonly coldStarts: number; readonly served: number; readonly rejected: number },
): PoolSnapshot {
  const byState: Record<InstanceState, number> = { starting: 0, idle: 0, busy: 0, paused: 0, draining: 0, dead: 0 };
  const instances = slots.map((slot) => {
    byState[slot.record.state] += 1;
    return {
      id: (slot.handle?.id ?? slot.record.id).slice(0, 12),
      state: slot.record.state,
      inFlight: slot.record.inFlight,
      served: slot.record.served,
      current: slot.spec === spec,
    };
  });
  return {
    module: spec.module,
    version: spec.version,
    settings,
    instances,
    byState,
    inFlight: instances.reduce((sum, i) => sum + i.inFlight, 0),
    ...counters,
  };
}
