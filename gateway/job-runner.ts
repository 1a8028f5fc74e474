import type { Logger } from 'pino';
import type { InvokeOutcome } from '../pool/index.js';
import type { JobOutcome, JobRepository, JobRow, NewJob } from '../store/index.js';
import type { CallbackSender } from './callbacks.js';
import { CompletionWaiters, purgeEvery } from './completion-waiters.js';
import { cutLogs } from './cut-logs.js';
import type { Invoker } from './invoker.js';
import type { ModuleRegistry } from './module-registry.js';

export interface JobLimits {
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly ttlMs: number;
  readonly maxResultBytes: number;
  readonly maxLogBytes: number;
}

export interface JobRunnerDeps {
  readonly jobs: JobRepository;
  readonly invoker: Invoker;
  readonly registry: ModuleRegistry;
  readonly callbacks: CallbackSender;
  readonly limits: JobLimits;
  readonly log: Logger;
  readonly now?: () => number;
  /** Runs file-triggered jobs: stages the input file, calls, stores what the call wrote. */
  readonly fileJobs?: { run(job: JobRow): Promise<JobCall> };
}

/** A job's call, and for a file-triggered one the objects it stored. */
type JobCall = InvokeOutcome & { readonly outputs?: readonly string[] };

// A module whose pool refused a job (its queue full of sync calls) is tried again after this.
const SATURATED_RETRY_MS = 100;

/**
 * Runs async jobs through the same pools as sync calls. Jobs wait in SQLite and,
 * by id, in one FIFO per module; dispatch takes modules in turn (round robin),
 * so one module's backlog cannot starve another's, and never gives a module more
 * jobs than its pool can serve at once (maxInstances × concurrency), so a busy
 * module's jobs wait here instead of being refused by its queue. Submissions
 * arriving together are committed in one transaction before any 202 is sent.
 */
export class JobRunner {
  private readonly queues = new Map<string, string[]>();
  /** Modules with queued jobs, in dispatch order. */
  private readonly turn: string[] = [];
  private readonly active = new Map<string, number>();
  private readonly waiters = new CompletionWaiters<JobRow>();
  private readonly inFlight = new Set<Promise<void>>();
  private running = 0;
  private closed = false;
  private batch: { job: NewJob; done: (err?: Error) => void }[] = [];
  private purgeTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: JobRunnerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * After a restart: jobs a crash left running are retried (at least once), or
   * fail once they have used HEARTH_JOB_MAX_ATTEMPTS; queued jobs run; undelivered
   * callbacks resume.
   */
  start(): { requeued: number; failed: number; queued: number } {
    const { jobs, limits } = this.deps;
    let requeued = 0;
    let failed = 0;
    for (const job of jobs.idsWithStatus('running')) {
      if (job.attempts >= limits.maxAttempts) {
        const row = jobs.finish(job.id, {
          status: 'failed',
          result: null,
          error: {
            type: 'TooManyAttempts',
            message: `the daemon stopped ${job.attempts} times while this job ran (HEARTH_JOB_MAX_ATTEMPTS=${limits.maxAttempts})`,
            traceback: '',
          },
          logs: '',
          finishedAt: this.now(),
          durationMs: null,
          coldStart: null,
        });
        if (row !== undefined) this.ended(row);
        failed += 1;
      } else {
        jobs.requeue(job.id, false);
        requeued += 1;
      }
    }
    const queued = jobs.idsWithStatus('queued');
    for (const job of queued) this.enqueue(job.module, job.id);
    for (const row of jobs.pendingCallbacks()) this.deps.callbacks.deliver(row);
    this.purgeTimer = purgeEvery(limits.ttlMs, () => this.purge());
    this.pump();
    return { requeued, failed, queued: queued.length };
  }

  /** Resolves once the job is committed as queued (group commit with its neighbours). */
  submit(job: NewJob): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.batch.length === 0) setImmediate(() => this.commit());
      this.batch.push({ job, done: (err) => (err === undefined ? resolve() : reject(err)) });
    });
  }

  /**
   * respond-async: a sync call that outlived its wait becomes a job. The row is
   * committed as running (so a crash retries it); the call's outcome lands in it.
   */
  adopt(job: NewJob, call: Promise<InvokeOutcome>): void {
    this.deps.jobs.addAll([job]);
    const startedAt = job.running?.startedAt ?? this.now();
    const settled = call.then(
      (outcome) => this.complete(job.id, startedAt, outcome, undefined),
      (err: unknown) => this.complete(job.id, startedAt, undefined, err),
    );
    this.track(settled);
  }

  /** Jobs already committed as queued by someone else (an upload's transaction): run them. */
  queued(jobs: readonly { readonly id: string; readonly module: string }[]): void {
    for (const job of jobs) this.enqueue(job.module, job.id);
    this.pump();
  }

  /** queued → cancelled; undefined when the job is not queued (or unknown). */
  cancel(id: string): JobRow | undefined {
    const row = this.deps.jobs.cancel(id, this.now());
    if (row !== undefined) this.ended(row);
    return row;
  }

  /** Resolves with the job once it has ended, or undefined after `ms`. */
  waitFor(id: string, ms: number): Promise<JobRow | undefined> {
    return this.waiters.waitFor(id, ms);
  }

  /** Stops dispatching and waits for running jobs (the pools bound how long). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.purgeTimer);
    clearTimeout(this.retryTimer);
    await Promise.all([...this.inFlight]);
  }

  /** Deletes finished jobs older than the TTL. */
  purge(): number {
    const removed = this.deps.jobs.purge(this.now() - this.deps.limits.ttlMs);
    if (removed > 0) this.deps.log.info({ removed }, 'purged finished jobs past HEARTH_JOB_TTL');
    return removed;
  }

  private commit(): void {
    const batch = this.batch;
    this.batch = [];
    try {
      this.deps.jobs.addAll(batch.map((entry) => entry.job));
    } catch (err) {
      for (const entry of batch) entry.done(err as Error);
      return;
    }
    for (const entry of batch) {
      this.enqueue(entry.job.module, entry.job.id);
      entry.done();
    }
    this.pump();
  }

  private enqueue(module: string, id: string, front = false): void {
    let queue = this.queues.get(module);
    if (queue === undefined) {
      queue = [];
      this.queues.set(module, queue);
      this.turn.push(module);
    }
    if (front) queue.unshift(id);
    else queue.push(id);
  }

  /** Takes modules in turn, one job each, while there is room daemon-wide and in the module's pool. */
  private pump(): void {
    let idle = 0;
    while (!this.closed && this.running < this.deps.limits.concurrency && this.turn.length > 0 && idle < this.turn.length) {
      const module = this.turn.shift() as string;
      const queue = this.queues.get(module) as string[];
      if ((this.active.get(module) ?? 0) >= this.capacity(module)) {
        this.turn.push(module);
        idle += 1;
        continue;
      }
      idle = 0;
      const id = queue.shift() as string;
      if (queue.length > 0) this.turn.push(module);
      else this.queues.delete(module);
      this.run(module, id);
    }
  }

  private capacity(module: string): number {
    const config = this.deps.registry.lookup(module)?.record.config;
    // An unknown module takes one at a time: its jobs fail fast, one by one.
    return config === undefined ? 1 : config.maxInstances * config.concurrency;
  }

  private run(module: string, id: string): void {
    const job = this.deps.jobs.claim(id, this.now());
    if (job === undefined) return; // cancelled meanwhile
    this.running += 1;
    this.active.set(module, (this.active.get(module) ?? 0) + 1);
    const startedAt = job.startedAt ?? this.now();
    const done = this.invoke(job).then(
      (outcome) => this.complete(id, startedAt, outcome, undefined),
      (err: unknown) => this.complete(id, startedAt, undefined, err, module),
    );
    this.track(
      done.finally(() => {
        this.running -= 1;
        const left = (this.active.get(module) ?? 1) - 1;
        if (left === 0) this.active.delete(module);
        else this.active.set(module, left);
        this.pump();
      }),
    );
  }

  private async invoke(job: JobRow): Promise<JobCall> {
    if (job.trigger === 'file' && this.deps.fileJobs !== undefined) return this.deps.fileJobs.run(job);
    const entry = this.deps.registry.lookup(job.module);
    if (entry === undefined) throw Object.assign(new Error(`module ${job.module} is no longer deployed`), { code: 'MODULE_NOT_FOUND' });
    if (!entry.functions.has(job.function)) {
      throw Object.assign(new Error(`module ${job.module} has no function ${job.function} any more`), { code: 'FUNCTION_NOT_FOUND' });
    }
    return this.deps.invoker.invoke(job.module, job.function, job.payload, { trigger: job.trigger, source: `job:${job.id}` });
  }

  private complete(id: string, startedAt: number, outcome: JobCall | undefined, err: unknown, module?: string): void {
    const code = (err as { code?: string } | undefined)?.code;
    // Not the job's fault, and not a run: back to the queue (a shutdown leaves it for the next start).
    if (module !== undefined && (code === 'POOL_SATURATED' || (code === 'SHUTTING_DOWN' && this.closed))) {
      this.deps.jobs.requeue(id, true);
      if (!this.closed) {
        this.enqueue(module, id, true);
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, SATURATED_RETRY_MS);
      }
      return;
    }
    const row = this.deps.jobs.finish(id, this.outcome(startedAt, outcome, err));
    if (row !== undefined) this.ended(row);
  }

  private outcome(startedAt: number, outcome: JobCall | undefined, err: unknown): JobOutcome {
    const finishedAt = this.now();
    if (outcome === undefined) {
      const e = err as { code?: string; message?: string; name?: string };
      const timeout = e.code === 'INVOCATION_TIMEOUT';
      return {
        status: timeout ? 'timeout' : 'failed',
        result: null,
        error: { type: e.code ?? e.name ?? 'Error', message: String(e.message ?? err), traceback: '' },
        logs: cutLogs(String((err as { details?: { logs?: unknown } }).details?.logs ?? ''), this.deps.limits.maxLogBytes),
        finishedAt,
        durationMs: finishedAt - startedAt,
        coldStart: null,
      };
    }
    const reply = outcome.reply;
    const logs = cutLogs(reply.logs, this.deps.limits.maxLogBytes);
    const base = { logs, finishedAt, durationMs: reply.durationMs, coldStart: outcome.coldStart };
    if (!reply.ok) {
      const error = reply.error ?? { type: 'Error', message: 'the handler failed', traceback: '' };
      return { ...base, status: 'failed', result: null, error: { type: error.type, message: `${error.type}: ${error.message}`, traceback: error.traceback } };
    }
    const result = reply.resultJson;
    if (result.length > this.deps.limits.maxResultBytes) {
      const message = `the result is ${result.length} bytes, over HEARTH_JOB_MAX_RESULT_BYTES (${this.deps.limits.maxResultBytes})`;
      return { ...base, status: 'failed', result: null, error: { type: 'ResultTooLarge', message, traceback: '' } };
    }
    return { ...base, status: 'succeeded', result: result.toString('utf8'), error: null, ...(outcome.outputs === undefined ? {} : { outputs: outcome.outputs }) };
  }

  private ended(row: JobRow): void {
    this.waiters.ended(row.id, row);
    if (row.callback !== null) this.deps.callbacks.deliver(row);
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }
}
