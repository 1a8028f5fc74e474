import type { Logger } from 'pino';
import type { Driver, InstanceSpec } from './driver.js';
import { InvocationTimeoutError, PoolClosedError } from './errors.js';
import { Instance, type RuntimeReply } from './instance.js';

/** Per-module settings of the pool. */
export interface PoolSettings {
  /** One call's time limit; on expiry the instance is killed and replaced. */
  readonly timeoutMs: number;
  /** How long a new instance may take to pass its health check. */
  readonly startTimeoutMs: number;
  /** Keep-alive connections the gateway opens to one instance. */
  readonly connections: number;
  /** SIGTERM → SIGKILL grace when an instance is stopped. */
  readonly stopGraceMs: number;
}

export interface InvokeOutcome {
  readonly reply: RuntimeReply;
  readonly coldStart: boolean;
  readonly instanceId: string;
}

export interface PoolSnapshot {
  readonly module: string;
  readonly version: string;
  readonly instances: { readonly id: string; readonly state: string; readonly inFlight: number; readonly served: number }[];
  readonly inFlight: number;
  readonly coldStarts: number;
  readonly served: number;
}

/**
 * The instances of one module. This first pool keeps a single warm instance:
 * the first call starts it (a cold start, shared by every call that arrives
 * meanwhile), later calls reuse it, and the threaded runtime serves them
 * concurrently. An instance that failed to start is dropped, never reused.
 */
export class ModulePool {
  private instances: Instance[] = [];
  private starting: Promise<Instance> | undefined;
  private closed = false;
  private coldStarts = 0;
  private served = 0;

  constructor(
    private spec: InstanceSpec,
    private settings: PoolSettings,
    private readonly driver: Driver,
    private readonly log: Logger,
  ) {}

  async invoke(fn: string, body: string): Promise<InvokeOutcome> {
    if (this.closed) throw new PoolClosedError(this.spec.module);
    const { instance, coldStart } = await this.acquire();
    instance.inFlight += 1;
    instance.state = 'busy';
    try {
      const reply = await instance.call(fn, body, this.settings.timeoutMs);
      return { reply, coldStart, instanceId: instance.id };
    } catch (err) {
      if (err instanceof InvocationTimeoutError) void this.retire(instance, 'kill');
      throw err;
    } finally {
      instance.inFlight -= 1;
      instance.served += 1;
      this.served += 1;
      if (instance.inFlight === 0) {
        if (instance.state === 'busy') instance.state = 'idle';
        else if (instance.state === 'draining') void this.retire(instance, 'stop');
      }
    }
  }

  /** New code or limits: new calls go to new instances, old ones finish their calls first. */
  update(spec: InstanceSpec, settings: PoolSettings): void {
    this.settings = settings;
    if (sameInstanceSpec(spec, this.spec)) return;
    this.spec = spec;
    const old = this.instances;
    this.instances = [];
    this.starting = undefined;
    for (const instance of old) {
      if (instance.inFlight === 0) void this.retire(instance, 'stop');
      else instance.state = 'draining';
    }
  }

  snapshot(): PoolSnapshot {
    const instances = this.instances.map((i) => ({ id: i.id.slice(0, 12), state: i.state, inFlight: i.inFlight, served: i.served }));
    return {
      module: this.spec.module,
      version: this.spec.version,
      instances,
      inFlight: instances.reduce((sum, i) => sum + i.inFlight, 0),
      coldStarts: this.coldStarts,
      served: this.served,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.starting?.catch(() => undefined);
    const started = pending ? await pending : undefined;
    const all = new Set([...this.instances, ...(started ? [started] : [])]);
    this.instances = [];
    await Promise.all([...all].map((instance) => this.retire(instance, 'stop')));
  }

  private async acquire(): Promise<{ instance: Instance; coldStart: boolean }> {
    const warm = this.instances.find((i) => i.state === 'idle' || i.state === 'busy');
    if (warm !== undefined) return { instance: warm, coldStart: false };
    this.starting ??= this.startInstance().finally(() => {
      this.starting = undefined;
    });
    return { instance: await this.starting, coldStart: true };
  }

  private async startInstance(): Promise<Instance> {
    const spec = this.spec;
    const started = performance.now();
    this.coldStarts += 1;
    const handle = await this.driver.start(spec);
    const instance = new Instance(handle, spec.version, this.settings.connections);
    try {
      await instance.waitHealthy(this.settings.startTimeoutMs);
    } catch (err) {
      // A failed start is never reused: kill whatever is left of it.
      void this.retire(instance, 'kill');
      throw err;
    }
    if (this.closed) {
      void this.retire(instance, 'stop');
      throw new PoolClosedError(spec.module);
    }
    // A redeploy during the start: serve the calls that waited for it, then stop it.
    instance.state = spec === this.spec ? 'idle' : 'draining';
    void handle.exited.then((exit) => {
      if (!this.instances.includes(instance)) return;
      this.instances = this.instances.filter((i) => i !== instance);
      this.log.warn({ module: spec.module, instance: instance.id.slice(0, 12), ...exit, logs: exit.logs.slice(-500) }, 'instance exited');
    });
    if (spec === this.spec) this.instances.push(instance);
    this.log.info({ module: spec.module, instance: instance.id.slice(0, 12), ms: Math.round(performance.now() - started) }, 'instance started');
    return instance;
  }

  private async retire(instance: Instance, how: 'stop' | 'kill'): Promise<void> {
    this.instances = this.instances.filter((i) => i !== instance);
    instance.state = 'dead';
    try {
      if (how === 'kill') await this.driver.kill(instance.handle);
      else await this.driver.stop(instance.handle, this.settings.stopGraceMs);
    } catch (err) {
      this.log.warn({ module: this.spec.module, instance: instance.id.slice(0, 12), err }, 'could not remove instance');
    } finally {
      await instance.close();
    }
  }
}

function sameInstanceSpec(a: InstanceSpec, b: InstanceSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
