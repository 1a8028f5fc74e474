import type { Clock } from '../../pool/index.js';

/** A clock that moves only when told to; timers fire in order as it passes them. */
export class FakeClock implements Clock {
  private time = 1000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  now(): number {
    return this.time;
  }

  schedule(fn: () => void, ms: number): () => void {
    const id = (this.nextId += 1);
    this.timers.push({ at: this.time + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((timer) => timer.id !== id);
    };
  }

  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (due === undefined || due.at > target) break;
      this.timers.shift();
      this.time = due.at;
      due.fn();
    }
    this.time = target;
  }
}
