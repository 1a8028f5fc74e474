import type { InstanceSpec, InstanceHandle } from './driver.js';
import type { InstanceRecord } from './instance-state.js';
import type { Instance } from './instance.js';

/** An instance as the pool keeps it: its record, the spec it runs, and its connection once started. */
export interface Slot {
  record: InstanceRecord;
  readonly spec: InstanceSpec;
  handle: InstanceHandle | undefined;
  instance: Instance | undefined;
  healthyAt: number;
  /** Driver operations on this instance run one after another (pause, then unpause…). */
  ops: Promise<void>;
  /** Aborted when the slot dies: a start still waiting for its turn is dropped. */
  readonly startWanted: AbortController;
}

export function isDead(slot: Slot): boolean {
  return slot.record.state === 'dead';
}
