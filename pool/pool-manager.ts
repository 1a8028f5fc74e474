import type { Logger } from 'pino';
import type { Driver, InstanceSpec } from './driver.js';
import { PoolClosedError } from './errors.js';
import { ModulePool, type InvokeOutcome, type PoolSettings, type PoolSnapshot } from './module-pool.js';

/** Every module's pool, by module name. */
export class PoolManager {
  private readonly pools = new Map<string, ModulePool>();
  private closed = false;

  constructor(
    private readonly driver: Driver,
    private readonly log: Logger,
  ) {}

  get driverName(): string {
    return this.driver.name;
  }

  /** Creates the module's pool, or applies new code/settings to the live one. */
  configure(spec: InstanceSpec, settings: PoolSettings): void {
    if (this.closed) throw new PoolClosedError(spec.module);
    const pool = this.pools.get(spec.module);
    if (pool !== undefined) pool.update(spec, settings);
    else this.pools.set(spec.module, new ModulePool(spec, settings, this.driver, this.log.child({ module: spec.module })));
  }

  invoke(module: string, fn: string, body: string): Promise<InvokeOutcome> {
    const pool = this.pools.get(module);
    if (pool === undefined) return Promise.reject(new PoolClosedError(module));
    return pool.invoke(fn, body);
  }

  snapshot(module: string): PoolSnapshot | undefined {
    return this.pools.get(module)?.snapshot();
  }

  /** Stops the module's instances and forgets its pool. */
  async remove(module: string): Promise<void> {
    const pool = this.pools.get(module);
    this.pools.delete(module);
    await pool?.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
