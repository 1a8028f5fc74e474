/** The daemon-wide cap on instances (HEARTH_MAX_INSTANCES), shared by every module's pool. */
export class InstanceBudget {
  private used = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  headroom(): number {
    return Math.max(0, this.max - this.used);
  }

  tryTake(): boolean {
    if (this.used >= this.max) return false;
    this.used += 1;
    return true;
  }

  /** Returns a unit; pools waiting for headroom hear about it. */
  give(): void {
    this.used = Math.max(0, this.used - 1);
    for (const listener of this.listeners) listener();
  }

  onFree(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
