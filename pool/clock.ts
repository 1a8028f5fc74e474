/** Time for pool code: injected so policy and timers run on a fake clock in tests. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. Never keeps the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

export function createSystemClock(): Clock {
  return {
    now: () => performance.now(),
    schedule: (fn, ms) => {
      const timer = setTimeout(fn, Math.max(0, ms));
      timer.unref();
      return () => clearTimeout(timer);
    },
  };
}
