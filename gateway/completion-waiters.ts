import { EventEmitter } from 'node:events';

/** Callers waiting, with a time limit, for a record (a job, a run) to end. */
export class CompletionWaiters<T> {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Resolves with the record once `ended(id, …)` is called, or undefined after `ms`. */
  waitFor(id: string, ms: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const onDone = (row: T): void => {
        clearTimeout(timer);
        resolve(row);
      };
      const timer = setTimeout(() => {
        this.emitter.off(id, onDone);
        resolve(undefined);
      }, ms);
      this.emitter.once(id, onDone);
    });
  }

  ended(id: string, row: T): void {
    this.emitter.emit(id, row);
  }
}

const PURGE_MAX_INTERVAL_MS = 3_600_000;
const PURGE_MIN_INTERVAL_MS = 100;

/** Calls `purge` every half TTL (between 100 ms and an hour), without keeping the process alive. */
export function purgeEvery(ttlMs: number, purge: () => void): NodeJS.Timeout {
  const interval = Math.min(PURGE_MAX_INTERVAL_MS, Math.max(PURGE_MIN_INTERVAL_MS, Math.floor(ttlMs / 2)));
  return setInterval(purge, interval).unref();
}
