/** A start that waited its turn at the gate and was no longer wanted (its slot was drained or the pool closed). */
export class StartCancelledError extends Error {
  readonly code = 'START_CANCELLED';
  constructor() {
    super('the instance was no longer needed when its turn to start came');
  }
}

/**
 * How many instance starts (the driver's create + start) run at once, daemon-wide
 * (HEARTH_START_CONCURRENCY). Containers started together share the CPU: on a
 * 2-core machine eight at once all became ready after 0.7–0.9 s, while two at a
 * time make the first ready after ~0.3 s and the rest follow in turn, so waiting
 * calls begin sooner (the scale-out benchmark, docs/benchmarks.md). Only the
 * engine's part is gated: a started container imports its module while the next
 * one is created. Turns are FIFO across every module.
 *
 * A small queue of its own rather than p-queue: a start must be dropped at once
 * while it waits (so a drain or a shutdown never waits for other modules'
 * starts), yet never abandoned once begun (its container would be lost), and
 * p-queue's abort signal does both.
 */
export class StartGate {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  /** `turnLimitMs`: a start still under way after this gives its turn to the next (a hung engine call then holds up only its own instance). */
  constructor(
    readonly concurrency: number,
    private readonly turnLimitMs: number,
  ) {}

  /** Starts waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `start` in its turn, with its outcome; aborting `signal` while it waits drops it (StartCancelledError). */
  run<T>(start: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) {
        reject(new StartCancelledError());
        return;
      }
      const begin = (): void => {
        signal.removeEventListener('abort', drop);
        // A start that throws instead of rejecting still frees its turn.
        const started = new Promise<T>((settle) => settle(start()));
        started.then(resolve, reject);
        let freed = false;
        const free = (): void => {
          if (freed) return;
          freed = true;
          clearTimeout(timer);
          this.next();
        };
        const timer = setTimeout(free, this.turnLimitMs);
        started.then(free, free);
      };
      const drop = (): void => {
        const at = this.queue.indexOf(begin);
        if (at >= 0) this.queue.splice(at, 1);
        reject(new StartCancelledError());
      };
      if (this.running < this.concurrency) {
        this.running += 1;
        begin();
      } else {
        this.queue.push(begin);
        signal.addEventListener('abort', drop, { once: true });
      }
    });
  }

  private next(): void {
    const begin = this.queue.shift();
    if (begin === undefined) this.running -= 1;
    else begin();
  }
}
