import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Driver, InstanceSpec, DriverInfo } from './driver.js';
import { PoolClosedError } from './errors.js';
import { InstanceBudget } from './instance-budget.js';
import { ModulePool, type InvokeOutcome } from './module-pool.js';
import { StartGate } from './start-gate.js';
import type { PoolSettings } from './pool-settings.js';
import type { PoolSnapshot } from './pool-snapshot.js';

export interface PoolManagerDeps {
  readonly driver: Driver;
  readonly clock: Clock;
  readonly log: Logger;
  /** HEARTH_MAX_INSTANCES: instances across all modules. */
  readonly maxInstances: number;
  /** HEARTH_START_CONCURRENCY: instance starts in progress at once, across all modules. */
  readonly startConcurrency: number;
  /** A start still under way after this long gives its turn to the next (HEARTH_START_TIMEOUT_MS). */
  readonly startTurnLimitMs: number;
}

/** Every module's pool, by module name, sharing one daemon-wide instance budget. */
export class PoolManager {
  private readonly pools = new Map<string, ModulePool>();
  private readonly budget: InstanceBudget;
  private readonly starts: StartGate;
  private closed = false;

  constructor(private readonly deps: PoolManagerDeps) {
    this.budget = new InstanceBudget(deps.maxInstances);
    this.starts = new StartGate(deps.startConcurrency, deps.startTurnLimitMs);
    // A unit freed by one module may be what another's waiting calls need.
    this.budget.onFree(() => {
      for (const pool of this.pools.values()) pool.poke();
    });
  }

  get driverName(): string {
    return this.deps.driver.name;
  }

  /** The driver, its sandbox, and what it does and does not enforce. */
  driverInfo(): DriverInfo {
    return this.deps.driver.describe();
  }

  /** Creates the module's pool (prewarming minWarm), or applies new code/settings to the live one. */
  configure(spec: InstanceSpec, settings: PoolSettings): void {
    if (this.closed) throw new PoolClosedError(spec.module);
    const pool = this.pools.get(spec.module);
    if (pool !== undefined) pool.update(spec, settings);
    else {
      const log = this.deps.log.child({ module: spec.module });
      this.pools.set(spec.module, new ModulePool(spec, settings, { driver: this.deps.driver, clock: this.deps.clock, budget: this.budget, starts: this.starts, log }));
    }
  }

  /** `timeoutMs` narrows the module's own limit for this call (a workflow node's, say); it never widens it. */
  invoke(module: string, fn: string, body: string, options?: { readonly timeoutMs?: number }): Promise<InvokeOutcome> {
    const pool = this.pools.get(module);
    if (pool === undefined) return Promise.reject(new PoolClosedError(module));
    return pool.invoke(fn, body, options?.timeoutMs);
  }

  snapshot(module: string): PoolSnapshot | undefined {
    return this.pools.get(module)?.snapshot();
  }

  /** Every pool, plus the daemon-wide budget and start gate. */
  overview(): { maxInstances: number; instances: number; starts: { concurrency: number; waiting: number }; pools: PoolSnapshot[] } {
    const pools = [...this.pools.values()].map((pool) => pool.snapshot()).sort((a, b) => a.module.localeCompare(b.module));
    const starts = { concurrency: this.starts.concurrency, waiting: this.starts.waiting };
    return { maxInstances: this.budget.max, instances: this.budget.inUse, starts, pools };
  }

  /** Stops the module's instances (after their calls) and forgets its pool. */
  async remove(module: string, graceMs: number): Promise<void> {
    const pool = this.pools.get(module);
    this.pools.delete(module);
    await pool?.close(graceMs);
  }

  async close(graceMs: number): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close(graceMs)));
  }
}
