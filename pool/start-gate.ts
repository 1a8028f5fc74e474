import PQueue from 'p-queue';

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
 */
export class StartGate {
  private readonly queue: PQueue;

  constructor(readonly concurrency: number) {
    this.queue = new PQueue({ concurrency });
  }

  /** Starts waiting for a turn. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Runs `start` in its turn, unless `wanted()` has turned false by then (StartCancelledError). */
  run<T>(start: () => Promise<T>, wanted: () => boolean): Promise<T> {
    return this.queue.add(async () => {
      if (!wanted()) throw new StartCancelledError();
      return start();
    });
  }
}
