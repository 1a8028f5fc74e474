/**
 * The life of one instance, as data: a closed set of states, one pure
 * transition function, and the effects the pool must carry out through the
 * driver. Nothing here does I/O or reads a clock.
 *
 *   starting ──healthy──▶ idle ⇄ busy ──release (last call)──▶ idle
 *      │                  │  ▲                                   
 *      │            pause │  │ acquire (effect: unpause)          
 *      │                  ▼  │                                   
 *      │                 paused                                  
 *   start-failed / drain / exited / timeout ──▶ dead   (busy + drain ──▶ draining ──last release──▶ dead)
 */
export type InstanceState = 'starting' | 'idle' | 'busy' | 'paused' | 'draining' | 'dead';

export interface InstanceRecord {
  readonly id: string;
  readonly version: string;
  readonly state: InstanceState;
  /** Calls being served now. */
  readonly inFlight: number;
  /** When the instance last finished a call (or became healthy): idle time counts from here. */
  readonly lastUsedAt: number;
  readonly startedAt: number;
  /** Calls it has finished. */
  readonly served: number;
}

export type InstanceEvent =
  | { readonly type: 'healthy' }
  | { readonly type: 'start-failed' }
  | { readonly type: 'acquire'; readonly concurrency: number }
  | { readonly type: 'release' }
  | { readonly type: 'pause' }
  | { readonly type: 'drain' }
  | { readonly type: 'timeout' }
  | { readonly type: 'exited' };

/** What the pool must do to the real instance after a transition. */
export type Effect = 'pause' | 'unpause' | 'stop' | 'kill';

export interface Transition {
  readonly record: InstanceRecord;
  readonly effects: readonly Effect[];
}

export class IllegalTransitionError extends Error {
  readonly code = 'ILLEGAL_TRANSITION';
  constructor(record: InstanceRecord, event: InstanceEvent) {
    super(`instance ${record.id}: ${event.type} is not allowed in state ${record.state} (in flight: ${record.inFlight})`);
  }
}

export function newInstanceRecord(id: string, version: string, now: number): InstanceRecord {
  return { id, version, state: 'starting', inFlight: 0, lastUsedAt: now, startedAt: now, served: 0 };
}

/** Has the instance room for one more call (paused ones do, after a thaw)? */
export function hasCapacity(record: InstanceRecord, concurrency: number): boolean {
  return record.state === 'idle' || record.state === 'paused' || (record.state === 'busy' && record.inFlight < concurrency);
}

/** The one table of allowed transitions. Throws IllegalTransitionError for anything else. */
export function transition(record: InstanceRecord, event: InstanceEvent, now: number): Transition {
  const to = (changes: Partial<InstanceRecord>, ...effects: Effect[]): Transition => ({
    record: { ...record, ...changes },
    effects,
  });
  // An exit can happen in any state; a dead instance ignores further exits.
  if (event.type === 'exited') return to({ state: 'dead', inFlight: 0 });
  switch (record.state) {
    case 'starting':
      if (event.type === 'healthy') return to({ state: 'idle', lastUsedAt: now });
      if (event.type === 'start-failed' || event.type === 'drain') return to({ state: 'dead' }, 'kill');
      break;
    case 'idle':
      if (event.type === 'acquire') return to({ state: 'busy', inFlight: 1 });
      if (event.type === 'pause') return to({ state: 'paused' }, 'pause');
      if (event.type === 'drain') return to({ state: 'dead' }, 'stop');
      break;
    case 'paused':
      if (event.type === 'acquire') return to({ state: 'busy', inFlight: 1 }, 'unpause');
      // A frozen process cannot take SIGTERM; it serves nobody, so it is killed.
      if (event.type === 'drain') return to({ state: 'dead' }, 'kill');
      break;
    case 'busy':
      if (event.type === 'acquire' && record.inFlight < event.concurrency) return to({ inFlight: record.inFlight + 1 });
      if (event.type === 'release') {
        const inFlight = record.inFlight - 1;
        return inFlight === 0
          ? to({ state: 'idle', inFlight, lastUsedAt: now, served: record.served + 1 })
          : to({ inFlight, served: record.served + 1 });
      }
      if (event.type === 'timeout') return to({ state: 'dead', inFlight: 0 }, 'kill');
      if (event.type === 'drain') return to({ state: 'draining' });
      break;
    case 'draining':
      if (event.type === 'release') {
        const inFlight = record.inFlight - 1;
        return inFlight === 0 ? to({ state: 'dead', inFlight, served: record.served + 1 }, 'stop') : to({ inFlight, served: record.served + 1 });
      }
      if (event.type === 'timeout') return to({ state: 'dead', inFlight: 0 }, 'kill');
      if (event.type === 'drain') return to({});
      break;
    case 'dead':
      // Late news about an instance already gone (a call that timed out as it died) changes nothing.
      if (event.type === 'release' || event.type === 'timeout' || event.type === 'drain') return to({});
      break;
  }
  throw new IllegalTransitionError(record, event);
}
