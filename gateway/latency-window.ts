/** Per-module call durations over the last few minutes, for p50/p95/p99 on demand. */
export class LatencyWindow {
  private readonly samples = new Map<string, { at: number[]; ms: number[] }>();

  constructor(
    readonly windowMs: number,
    private readonly maxSamples: number,
    private readonly now: () => number = Date.now,
  ) {}

  add(module: string, ms: number): void {
    let entry = this.samples.get(module);
    if (entry === undefined) {
      entry = { at: [], ms: [] };
      this.samples.set(module, entry);
    }
    entry.at.push(this.now());
    entry.ms.push(ms);
    // Bounded memory: the oldest half goes when full (the window is then shorter under heavy load).
    if (entry.at.length > this.maxSamples) {
      const drop = Math.floor(this.maxSamples / 2);
      entry.at.splice(0, drop);
      entry.ms.splice(0, drop);
    }
  }

  /** Nearest-rank percentiles of the calls that ended within the window; null without calls. */
  percentiles(module: string): { windowMs: number; calls: number; p50: number | null; p95: number | null; p99: number | null } {
    const entry = this.samples.get(module);
    const since = this.now() - this.windowMs;
    let first = 0;
    if (entry !== undefined) {
      while (first < entry.at.length && (entry.at[first] as number) < since) first += 1;
      entry.at.splice(0, first);
      entry.ms.splice(0, first);
    }
    const sorted = [...(entry?.ms ?? [])].sort((a, b) => a - b);
    const rank = (p: number): number | null => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number));
    return { windowMs: this.windowMs, calls: sorted.length, p50: rank(50), p95: rank(95), p99: rank(99) };
  }

  forget(module: string): void {
    this.samples.delete(module);
  }
}
