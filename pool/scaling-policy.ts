import type { InstanceRecord } from './instance-state.js';

/** The settings the policy reads (a subset of PoolSettings). */
export interface ScalingSettings {
  readonly minWarm: number;
  readonly maxInstances: number;
  readonly concurrency: number;
  readonly idleTimeoutMs: number;
  /** 0 = never pause. */
  readonly pauseAfterMs: number;
}

export interface PoolView {
  /** Instances of the current version that are not dead (draining ones are not counted as live). */
  readonly instances: readonly InstanceRecord[];
  /** Calls waiting in the queue for a slot. */
  readonly waiting: number;
  /** How many more instances the daemon-wide cap allows. */
  readonly globalHeadroom: number;
  /** Earliest time another start may be tried after failed ones (backoff), or 0. */
  readonly startBackoffUntil: number;
}

export interface Decision {
  /** Instances to start now. */
  readonly start: number;
  /** Instances to stop (idle past idleTimeoutMs above minWarm, or over maxInstances). */
  readonly drain: readonly string[];
  /** Idle instances to pause (freeze). */
  readonly pause: readonly string[];
  /** When to decide again if nothing else happens (undefined: only on events). */
  readonly wakeAt: number | undefined;
}

/**
 * Scaling as a pure function of (state, settings, now). Instances already
 * starting count against the waiting demand, so a burst of calls does not
 * start one container per call.
 */
export function decide(view: PoolView, settings: ScalingSettings, now: number): Decision {
  const live = view.instances.filter((i) => i.state !== 'draining' && i.state !== 'dead');
  const starting = live.filter((i) => i.state === 'starting').length;
  const room = Math.max(0, Math.min(settings.maxInstances - live.length, view.globalHeadroom));

  // Demand not covered by free slots (the queue only holds calls that found none) nor by starting instances.
  const uncovered = view.waiting - starting * settings.concurrency;
  const forDemand = Math.ceil(Math.max(0, uncovered) / settings.concurrency);
  const forWarm = now >= view.startBackoffUntil ? Math.max(0, settings.minWarm - live.length) : 0;
  const start = Math.min(room, Math.max(forDemand, forWarm));

  const drain: string[] = [];
  const pause: string[] = [];
  let wakeAt: number | undefined;
  const wake = (at: number): void => {
    wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
  };

  // Resting instances, longest idle first, are the ones to stop or pause.
  const resting = live.filter((i) => i.state === 'idle' || i.state === 'paused').sort((a, b) => a.lastUsedAt - b.lastUsedAt);
  let excess = live.length - settings.maxInstances;
  let stoppable = view.waiting > 0 ? 0 : live.length - settings.minWarm;
  for (const instance of resting) {
    const idleFor = now - instance.lastUsedAt;
    if (excess > 0) {
      drain.push(instance.id);
      excess -= 1;
      stoppable -= 1;
    } else if (stoppable > 0 && idleFor >= settings.idleTimeoutMs) {
      drain.push(instance.id);
      stoppable -= 1;
    } else {
      if (stoppable > 0) wake(instance.lastUsedAt + settings.idleTimeoutMs);
      if (settings.pauseAfterMs > 0 && instance.state === 'idle') {
        if (idleFor >= settings.pauseAfterMs) pause.push(instance.id);
        else wake(instance.lastUsedAt + settings.pauseAfterMs);
      }
    }
  }
  // Over maxInstances with nothing resting (the limit was lowered under load): drain busy ones too.
  for (const instance of live) {
    if (excess <= 0) break;
    if (instance.state === 'busy' || instance.state === 'starting') {
      drain.push(instance.id);
      excess -= 1;
    }
  }
  if (forWarm === 0 && settings.minWarm > live.length && view.startBackoffUntil > now) wake(view.startBackoffUntil);
  return { start, drain, pause, wakeAt };
}
