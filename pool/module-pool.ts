import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Driver, ExitInfo, InstanceHandle, InstanceSpec } from './driver.js';
import { InvocationTimeoutError, PoolClosedError, PoolSaturatedError, QueueTimeoutError } from './errors.js';
import type { InstanceBudget } from './instance-budget.js';
import { StartCancelledError, type StartGate } from './start-gate.js';
import {
  newInstanceRecord,
  transition,
  type Effect,
  type InstanceEvent,
  type InstanceRecord,
} from './instance-state.js';
import { Instance } from './instance.js';
import { transportFor } from './transport-for.js';
import type { RuntimeReply } from './runtime-reply.js';
import { describePool, type PoolSnapshot } from './pool-snapshot.js';
import { isDead, pickSlot, type Slot } from './slot.js';
import type { PoolSettings } from './pool-settings.js';
import { decide } from './scaling-policy.js';
import { WaiterQueue } from './waiter-queue.js';

export interface InvokeOutcome {
  readonly reply: RuntimeReply;
  /** The call waited for an instance that was not yet running when it arrived. */
  readonly coldStart: boolean;
  readonly instanceId: string;
  /** How long the call waited for an instance (a free slot, a start, a thaw), ms. */
  readonly queueMs: number;
}

export interface ModulePoolDeps {
  readonly driver: Driver;
  readonly clock: Clock;
  readonly budget: InstanceBudget;
  /** Daemon-wide turns for the engine's part of a start. */
  readonly starts: StartGate;
  readonly log: Logger;
}

interface Waiter {
  readonly enqueuedAt: number;
  resolve(lease: Lease): void;
  reject(err: Error): void;
  cancelTimer: () => void;
}

interface Lease {
  readonly slot: Slot;
  readonly coldStart: boolean;
  /** Resolves once the instance can take the call (after a thaw). */
  readonly ready: Promise<void>;
}

const MAX_START_BACKOFF_MS = 30_000;
const QUEUE_RETRY_AFTER_SEC = 1;

/**
 * The instances of one module. The pure policy (scaling-policy.ts) decides how
 * many to start, stop and pause; the pure state machine (instance-state.ts)
 * says what each event does to an instance; this class keeps the slots and the
 * FIFO of waiting calls, and carries out the effects through the driver.
 */
export class ModulePool {
  private readonly slots = new Map<string, Slot>();
  private readonly queue = new WaiterQueue<Waiter>();
  private spec: InstanceSpec;
  private settings: PoolSettings;
  private closed = false;
  private cancelWake: (() => void) | undefined;
  private wakeAt: number | undefined;
  private nextSlot = 0;
  private failedStarts = 0;
  private startBackoffUntil = 0;
  private lastStartError: Error | undefined;
  private coldStarts = 0;
  private served = 0;
  private rejected = 0;
  private emptied: (() => void) | undefined;
  /** Instances on their way out (stop or kill still running). */
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    spec: InstanceSpec,
    settings: PoolSettings,
    private readonly deps: ModulePoolDeps,
  ) {
    this.spec = spec;
    this.settings = settings;
    this.reconcile();
  }

  async invoke(fn: string, body: string, timeoutMs?: number): Promise<InvokeOutcome> {
    if (this.closed) throw new PoolClosedError(this.spec.module);
    this.failFastWhileBroken();
    const arrived = this.deps.clock.now();
    const lease = this.acquireNow() ?? (await this.enqueue());
    const { slot } = lease;
    try {
      await lease.ready;
      const queueMs = this.deps.clock.now() - arrived;
      const instance = slot.instance as Instance;
      const reply = await instance.call(fn, body, Math.min(this.settings.timeoutMs, timeoutMs ?? Infinity));
      return { reply, coldStart: lease.coldStart, instanceId: slot.handle?.id ?? slot.record.id, queueMs };
    } catch (err) {
      if (err instanceof InvocationTimeoutError) this.apply(slot, { type: 'timeout' });
      throw err;
    } finally {
      this.served += 1;
      this.apply(slot, { type: 'release' });
      this.dispatch();
      this.reconcile();
    }
  }

  /** New settings apply at once; a new spec (code, image, limits) replaces instances as they finish their calls. */
  update(spec: InstanceSpec, settings: PoolSettings): void {
    this.settings = settings;
    if (!sameSpec(spec, this.spec)) {
      this.spec = spec;
      // New code may well start: forget the old one's failures.
      this.failedStarts = 0;
      this.startBackoffUntil = 0;
      this.lastStartError = undefined;
      for (const slot of [...this.slots.values()]) if (slot.spec !== spec) this.apply(slot, { type: 'drain' });
    }
    this.dispatch();
    this.reconcile();
  }

  /** Makes another decision now (the daemon-wide budget freed a unit, say). */
  poke(): void {
    this.dispatch();
    this.reconcile();
  }

  snapshot(): PoolSnapshot {
    return describePool(this.spec, this.settings, [...this.slots.values()], {
      queued: this.queue.length,
      coldStarts: this.coldStarts,
      served: this.served,
      rejected: this.rejected,
    });
  }

  /** Refuses new calls, fails queued ones, lets in-flight calls finish within `graceMs`, then removes every instance. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    this.cancelWake?.();
    this.failWaiters(this.queue.length, new PoolClosedError(this.spec.module));
    const emptied = new Promise<void>((resolve) => {
      this.emptied = resolve;
    });
    for (const slot of [...this.slots.values()]) this.apply(slot, { type: 'drain' });
    if (this.slots.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([emptied, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    // Whatever still runs after the grace is killed.
    for (const slot of [...this.slots.values()]) this.apply(slot, { type: 'timeout' });
    await Promise.all(this.retiring);
  }

  // ---- slots and waiters ----

  /** A slot for a call that arrives now, unless others already wait (FIFO). */
  private acquireNow(): Lease | undefined {
    if (this.queue.length > 0) return undefined;
    const slot = pickSlot(this.slots.values(), this.spec, this.settings.concurrency);
    if (slot === undefined) return undefined;
    return { slot, coldStart: false, ready: this.apply(slot, { type: 'acquire', concurrency: this.settings.concurrency }) };
  }

  private enqueue(): Promise<Lease> {
    if (this.queue.length >= this.settings.maxQueue) {
      this.rejected += 1;
      throw new PoolSaturatedError(this.spec.module, this.settings.maxQueue, { retryAfterSec: QUEUE_RETRY_AFTER_SEC });
    }
    const lease = new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { enqueuedAt: this.deps.clock.now(), resolve, reject, cancelTimer: () => undefined };
      const timeoutMs = this.settings.timeoutMs;
      waiter.cancelTimer = this.deps.clock.schedule(() => {
        if (this.queue.remove(waiter)) reject(new QueueTimeoutError(timeoutMs));
      }, timeoutMs);
      this.queue.push(waiter);
    });
    this.reconcile();
    return lease;
  }

  /** Hands free slots to waiting calls, in arrival order. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = pickSlot(this.slots.values(), this.spec, this.settings.concurrency);
      if (slot === undefined) return;
      const waiter = this.queue.shift() as Waiter;
      waiter.cancelTimer();
      const ready = this.apply(slot, { type: 'acquire', concurrency: this.settings.concurrency });
      waiter.resolve({ slot, coldStart: slot.healthyAt > waiter.enqueuedAt, ready });
    }
  }

  /** Applies an event through the state machine and carries out its effects; resolves when they are done. */
  private apply(slot: Slot, event: InstanceEvent): Promise<void> {
    const { record, effects } = transition(slot.record, event, this.deps.clock.now());
    const wasDead = slot.record.state === 'dead';
    slot.record = record;
    for (const effect of effects) this.carryOut(slot, effect);
    if (record.state === 'dead' && !wasDead) this.forget(slot);
    return slot.ops;
  }

  private carryOut(slot: Slot, effect: Effect): void {
    const { driver, log } = this.deps;
    slot.ops = slot.ops.then(async () => {
      const handle = slot.handle;
      // Operations queue behind the creation (startInstance); no handle means it failed: nothing to act on.
      if (handle === undefined) return;
      try {
        if (effect === 'pause') await driver.pause(handle);
        else if (effect === 'unpause') await driver.unpause(handle);
        else if (effect === 'stop') await driver.stop(handle, this.settings.stopGraceMs);
        else await driver.kill(handle);
      } catch (err) {
        log.warn({ err, instance: handle.id.slice(0, 12), effect }, 'instance operation failed');
      }
    });
  }

  /** A dead slot leaves the pool; its unit of the daemon-wide budget returns once it is really gone. */
  private forget(slot: Slot): void {
    this.slots.delete(slot.record.id);
    // Once begun, a start runs to its end (its kill is queued behind it); one still waiting is dropped now.
    slot.startWanted.abort();
    const gone = slot.ops.then(async () => {
      await slot.instance?.close();
      this.deps.budget.give();
    });
    this.retiring.add(gone);
    void gone.finally(() => this.retiring.delete(gone));
    if (this.slots.size === 0) this.emptied?.();
  }

  // ---- scaling ----

  private reconcile(): void {
    if (this.closed) return;
    const now = this.deps.clock.now();
    const instances: InstanceRecord[] = [];
    for (const slot of this.slots.values()) if (slot.spec === this.spec) instances.push(slot.record);
    const decision = decide(
      { instances, waiting: this.queue.length, globalHeadroom: this.deps.budget.headroom(), startBackoffUntil: this.startBackoffUntil },
      this.settings,
      now,
    );
    for (let i = 0; i < decision.start; i += 1) {
      if (!this.deps.budget.tryTake()) break;
      this.startInstance();
    }
    for (const id of decision.drain) {
      const slot = this.slots.get(id);
      if (slot !== undefined) this.apply(slot, { type: 'drain' });
    }
    for (const id of decision.pause) {
      const slot = this.slots.get(id);
      if (slot !== undefined) this.apply(slot, { type: 'pause' });
    }
    this.scheduleWake(decision.wakeAt, now);
  }

  /**
   * Arms one timer for the next decision. Deadlines move later on every call (idle
   * time restarts), so an armed timer is only replaced by an earlier one: one that
   * fires early just decides again and re-arms, which keeps timers off the hot path.
   */
  private scheduleWake(at: number | undefined, now: number): void {
    if (at === undefined || (this.wakeAt !== undefined && this.wakeAt <= at)) return;
    this.cancelWake?.();
    this.wakeAt = at;
    this.cancelWake = this.deps.clock.schedule(() => {
      this.wakeAt = undefined;
      this.cancelWake = undefined;
      this.reconcile();
    }, at - now + 1);
  }

  /** Starts one instance; the slot exists (as `starting`) before this returns, so the policy counts it. */
  private startInstance(): void {
    const spec = this.spec;
    const now = this.deps.clock.now();
    this.nextSlot += 1;
    const slot: Slot = {
      record: newInstanceRecord(`${spec.module}-${this.nextSlot}`, spec.version, now),
      spec,
      handle: undefined,
      instance: undefined,
      healthyAt: Infinity,
      ops: Promise.resolve(),
      startWanted: new AbortController(),
    };
    // The slot's operations begin with its creation: a kill issued meanwhile (a drain,
    // a shutdown) waits for the container and then removes it, and close() waits for both.
    const created = this.deps.starts.run(() => this.deps.driver.start(spec), slot.startWanted.signal);
    slot.ops = created.then(
      (handle) => {
        slot.handle = handle;
      },
      () => undefined,
    );
    this.slots.set(slot.record.id, slot);
    this.coldStarts += 1;
    void this.bringUp(slot, created, now);
  }

  private async bringUp(slot: Slot, created: Promise<InstanceHandle>, startedAt: number): Promise<void> {
    const { clock, log } = this.deps;
    try {
      const handle = await created;
      // Drained while the driver created it: the drain's kill, queued behind the creation, removes it.
      if (isDead(slot)) return;
      const instance = new Instance(handle, transportFor(this.deps.driver, slot.spec, handle, this.settings.concurrency));
      slot.instance = instance;
      void handle.exited.then((exit) => this.onExit(slot, exit));
      await instance.waitHealthy(this.settings.startTimeoutMs);
      // Drained while it started: the drain's kill already took care of it.
      if (isDead(slot)) return;
      slot.healthyAt = clock.now();
      this.failedStarts = 0;
      this.startBackoffUntil = 0;
      this.lastStartError = undefined;
      this.apply(slot, { type: 'healthy' });
      log.info({ instance: handle.id.slice(0, 12), ms: Math.round(clock.now() - startedAt) }, 'instance started');
    } catch (err) {
      // Drained while it waited for its turn: nothing was created, and nothing failed.
      if (err instanceof StartCancelledError) this.coldStarts -= 1;
      else this.onStartFailure(slot, err as Error);
    }
    this.dispatch();
    this.reconcile();
  }

  private onStartFailure(slot: Slot, err: Error): void {
    this.deps.log.warn({ err: err.message, instance: slot.handle?.id.slice(0, 12) }, 'instance failed to start');
    if (slot.record.state !== 'dead') this.apply(slot, { type: 'start-failed' });
    this.failedStarts += 1;
    this.lastStartError = err;
    this.startBackoffUntil = this.deps.clock.now() + Math.min(MAX_START_BACKOFF_MS, 500 * 2 ** (this.failedStarts - 1));
    // The calls this instance was to serve get the cause instead of hanging (or of a retry
    // loop: a replacement start would likely fail the same way); with nothing else alive, all do.
    this.failWaiters(this.hasLiveInstance() ? this.settings.concurrency : this.queue.length, err);
  }

  /** Fails up to `count` waiting calls, oldest first. */
  private failWaiters(count: number, err: Error): void {
    for (let i = 0; i < count && this.queue.length > 0; i += 1) {
      const waiter = this.queue.shift() as Waiter;
      waiter.cancelTimer();
      waiter.reject(err);
    }
  }

  /** Is an instance of the current version starting or running (not on its way out)? */
  private hasLiveInstance(): boolean {
    for (const slot of this.slots.values()) if (slot.spec === this.spec && slot.record.state !== 'draining') return true;
    return false;
  }

  /** After failed starts, while backing off with nothing running, calls get the cause at once. */
  private failFastWhileBroken(): void {
    if (this.lastStartError === undefined || this.deps.clock.now() >= this.startBackoffUntil) return;
    if (!this.hasLiveInstance()) throw this.lastStartError;
  }

  private onExit(slot: Slot, exit: ExitInfo): void {
    if (slot.record.state === 'dead') return;
    // Not one we stopped: it crashed. Its in-flight calls fail (Instance aborts them); the pool heals.
    this.deps.log.warn(
      { instance: slot.handle?.id.slice(0, 12), exitCode: exit.exitCode, oomKilled: exit.oomKilled, state: slot.record.state },
      'instance exited unexpectedly',
    );
    if (slot.record.state === 'starting') return; // bringUp reports it as a failed start
    this.apply(slot, { type: 'exited' });
    this.dispatch();
    this.reconcile();
  }
}

function sameSpec(a: InstanceSpec, b: InstanceSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
