import type { InstanceSpec, InstanceHandle } from './driver.js';
import { hasCapacity, type InstanceRecord } from './instance-state.js';
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

/** The best instance of `spec` with room: pack busy ones first (so others can idle out), then the most recently used idle, then a paused one. */
export function pickSlot(slots: Iterable<Slot>, spec: InstanceSpec, concurrency: number): Slot | undefined {
  let best: Slot | undefined;
  let bestRank = -Infinity;
  for (const slot of slots) {
    if (slot.spec !== spec || slot.instance === undefined || !hasCapacity(slot.record, concurrency)) continue;
    const r = slot.record;
    const rank = r.state === 'busy' ? 2e15 + r.inFlight : r.state === 'idle' ? 1e15 + r.lastUsedAt : r.lastUsedAt;
    if (rank > bestRank) {
      best = slot;
      bestRank = rank;
    }
  }
  return best;
}
