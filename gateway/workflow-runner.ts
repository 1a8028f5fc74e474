import type { Logger } from 'pino';
import type { RunRepository, RunRow, StepRow } from '../store/index.js';
import { executeRun, type RunLimits, type RunResult, type Step, type StepCall, type StepReply, type Workflow } from '../workflows/index.js';
import { CompletionWaiters, purgeEvery } from './completion-waiters.js';
import { cutLogs } from './cut-logs.js';
import { idGenerator } from './ids.js';
import { HandlerError, ModuleNotFoundError, UnknownFunctionError } from './errors.js';
import { buildPayload } from './invocation-payload.js';
import type { Invoker } from './invoker.js';
import type { ModuleRegistry } from './module-registry.js';
import { compileWorkflow } from './workflow-definitions.js';

export interface WorkflowRunnerDeps {
  readonly runs: RunRepository;
  readonly invoker: Invoker;
  readonly registry: ModuleRegistry;
  readonly limits: RunLimits & {
    readonly maxNodes: number;
    /** Async runs under way at once. */
    readonly concurrency: number;
    /** Starts of an async run (restarts resume it) before it fails. */
    readonly maxAttempts: number;
    /** Finished runs older than this are purged. */
    readonly ttlMs: number;
    readonly maxLogBytes: number;
  };
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * Runs workflows through the same pools as every other call and keeps each
 * run and step in SQLite as it goes. Sync runs answer the request that made
 * them; async runs wait in a FIFO (bounded concurrency) and, after a crash,
 * resume from their last finished steps (a step that was running runs again).
 */
export class WorkflowRunner {
  private readonly abort = new AbortController();
  private readonly queue: string[] = [];
  private readonly waiters = new CompletionWaiters<RunRow>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private running = 0;
  private readonly newId = idGenerator();
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: WorkflowRunnerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** After a restart: async runs resume, sync runs (whose caller is gone) fail as interrupted. */
  start(): { resumed: number; interrupted: number; queued: number } {
    const { runs, limits } = this.deps;
    let resumed = 0;
    let interrupted = 0;
    for (const run of runs.withStatus('running')) {
      if (run.mode === 'sync') {
        runs.finish(run.id, {
          status: 'failed',
          output: null,
          error: { type: 'INTERRUPTED', message: 'the daemon stopped during this synchronous run; its caller got no answer' },
          finishedAt: this.now(),
        });
        interrupted += 1;
      } else {
        this.queue.push(run.id);
        resumed += 1;
      }
    }
    const queued = runs.withStatus('queued');
    for (const run of queued) this.queue.push(run.id);
    this.purgeTimer = purgeEvery(limits.ttlMs, () => this.purge());
    this.pump();
    return { resumed, interrupted, queued: queued.length };
  }

  /** Runs now; resolves with the run as stored once it has ended, and how. */
  async runSync(name: string, definition: object, inputJson: string): Promise<{ run: RunRow; result: RunResult }> {
    const workflow = compileWorkflow(definition, this.deps.limits.maxNodes);
    const run = this.deps.runs.add({ id: this.newId(), workflow: name, definition, mode: 'sync', input: inputJson, createdAt: this.now() });
    return this.track(this.execute(run, workflow, new Map()));
  }

  /** Stores the run as queued; it starts when a slot is free. */
  submit(name: string, definition: object, inputJson: string): RunRow {
    compileWorkflow(definition, this.deps.limits.maxNodes);
    const run = this.deps.runs.add({ id: this.newId(), workflow: name, definition, mode: 'async', input: inputJson, createdAt: this.now() });
    this.queue.push(run.id);
    this.pump();
    return run;
  }

  /** Resolves with the run once it has ended, or undefined after `ms`. */
  waitFor(id: string, ms: number): Promise<RunRow | undefined> {
    return this.waiters.waitFor(id, ms);
  }

  /** No step starts from now on; runs under way stop after their running steps (async ones resume at the next start). */
  async close(): Promise<void> {
    this.abort.abort();
    clearInterval(this.purgeTimer);
    await Promise.all([...this.inFlight]);
  }

  purge(): number {
    const removed = this.deps.runs.purge(this.now() - this.deps.limits.ttlMs);
    if (removed > 0) this.deps.log.info({ removed }, 'purged finished workflow runs past HEARTH_JOB_TTL');
    return removed;
  }

  private pump(): void {
    while (!this.abort.signal.aborted && this.running < this.deps.limits.concurrency && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      this.running += 1;
      void this.track(this.resume(id))
        // A store failure, say: the run stays as it is in SQLite and is tried again at the next start.
        .catch((err: unknown) => this.deps.log.error({ err, run: id }, 'workflow run stopped by an unexpected error'))
        .finally(() => {
          this.running -= 1;
          this.pump();
        });
    }
  }

  private async resume(id: string): Promise<void> {
    const { runs, limits } = this.deps;
    const run = runs.start(id, this.now());
    if (run === undefined) return;
    if (run.attempts > limits.maxAttempts) {
      const message = `the daemon stopped ${run.attempts - 1} times while this run was under way (HEARTH_JOB_MAX_ATTEMPTS=${limits.maxAttempts})`;
      this.ended(runs.finish(id, { status: 'failed', output: null, error: { type: 'TOO_MANY_ATTEMPTS', message }, finishedAt: this.now() }));
      return;
    }
    let workflow: Workflow;
    try {
      workflow = compileWorkflow(run.definition, limits.maxNodes);
    } catch (err) {
      // Saved by an older hearth with other rules, say: the run cannot go on.
      this.ended(runs.finish(id, { status: 'failed', output: null, error: { type: 'INVALID_WORKFLOW', message: (err as Error).message }, finishedAt: this.now() }));
      return;
    }
    const previous = new Map(runs.steps(id).map((step) => [step.node, step as Step]));
    await this.execute(run, workflow, previous);
  }

  private async execute(run: RunRow, workflow: Workflow, previous: ReadonlyMap<string, Step>): Promise<{ run: RunRow; result: RunResult }> {
    const { runs, limits } = this.deps;
    const result = await executeRun(workflow, JSON.parse(run.input) as unknown, {
      invoke: (call) => this.invokeStep(run, call),
      onStep: (step) => runs.saveStep(run.id, { ...step, logs: cutLogs(step.logs, limits.maxLogBytes) } satisfies StepRow),
      now: this.now,
      limits,
      signal: this.abort.signal,
      previous,
    });
    if (result.status === 'interrupted') {
      if (run.mode === 'async') return { run: runs.get(run.id) as RunRow, result };
      const error = { type: 'SHUTTING_DOWN', message: 'the daemon stopped during this synchronous run' };
      return { run: this.ended(runs.finish(run.id, { status: 'failed', output: null, error, finishedAt: this.now() })) ?? run, result };
    }
    const outcome =
      result.status === 'succeeded'
        ? { status: result.status, output: JSON.stringify(result.output) ?? 'null', error: null }
        : { status: result.status, output: null, error: result.error };
    return { run: this.ended(runs.finish(run.id, { ...outcome, finishedAt: this.now() })) ?? run, result };
  }

  private async invokeStep(run: RunRow, call: StepCall): Promise<StepReply> {
    const { node } = call;
    const entry = this.deps.registry.lookup(node.module);
    if (entry === undefined) throw new ModuleNotFoundError(node.module);
    if (!entry.functions.has(node.fn)) throw new UnknownFunctionError(node.module, node.fn, { functions: entry.record.functions });
    const payload = buildPayload(entry.record, node.fn, {
      eventJson: call.eventJson,
      trigger: 'workflow',
      requestId: `${run.id}-${node.name}-${call.attempt}`,
      extra: { workflow: { name: run.workflow, run_id: run.id, node: node.name, attempt: call.attempt } },
    });
    const outcome = await this.deps.invoker.invoke(node.module, node.fn, payload, {
      trigger: 'workflow',
      source: `run:${run.id}/${node.name}`,
      timeoutMs: node.timeoutMs,
    });
    const reply = outcome.reply;
    if (!reply.ok) {
      const error = reply.error ?? { type: 'Error', message: 'the handler failed', traceback: '' };
      throw new HandlerError({ type: error.type, traceback: error.traceback, logs: reply.logs }, `${error.type}: ${error.message}`);
    }
    return { result: JSON.parse(reply.resultJson.toString('utf8')) as unknown, logs: reply.logs, durationMs: reply.durationMs, coldStart: outcome.coldStart };
  }

  private ended(row: RunRow | undefined): RunRow | undefined {
    if (row !== undefined) this.waiters.ended(row.id, row);
    return row;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }
}
