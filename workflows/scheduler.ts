import { setTimeout as sleep } from 'node:timers/promises';
import { evaluate } from './condition.js';
import { PathError, readPath, writePath } from './json-path.js';
import type { Workflow, WorkflowEdge, WorkflowNode } from './workflow.js';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'timeout' | 'skipped';

export interface StepError {
  readonly type: string;
  readonly message: string;
  readonly traceback?: string;
}

/** What one node did in one run. Times are epoch ms; JSON values are kept as text. */
export interface Step {
  readonly node: string;
  /** `module.fn` */
  readonly function: string;
  readonly status: StepStatus;
  /** The event the function got (after inputPath). */
  readonly input: string | null;
  /** The node's output (the result, placed by resultPath). */
  readonly output: string | null;
  /** The last attempt's error; kept on a step that succeeded after a retry. */
  readonly error: StepError | null;
  readonly logs: string;
  readonly attempts: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The function's own time in its last attempt. */
  readonly durationMs: number | null;
  readonly coldStart: boolean | null;
}

export interface StepCall {
  readonly node: WorkflowNode;
  readonly eventJson: string;
  readonly attempt: number;
}

export interface StepReply {
  readonly result: unknown;
  readonly logs: string;
  readonly durationMs: number;
  readonly coldStart: boolean;
}

export interface RunLimits {
  /** Function calls one run may make, retries included. */
  readonly maxSteps: number;
  /** Wall time of one run (of one attempt of it, after a restart). */
  readonly maxRunMs: number;
  /** Largest JSON passed into or out of a step. */
  readonly maxDataBytes: number;
}

export interface RunEnv {
  /** Calls the node's function. Throws errors with a `code` (and `details.type/traceback/logs` when the handler raised). */
  readonly invoke: (call: StepCall) => Promise<StepReply>;
  /** Every change of a step, in order, for the record. */
  readonly onStep: (step: Step) => void;
  readonly now: () => number;
  readonly limits: RunLimits;
  /** Aborted when the daemon stops: no step starts, and a failure from then on is an interruption, not the run's fault. */
  readonly signal: AbortSignal;
  /** Steps recorded by an earlier attempt of this run (before a restart): succeeded ones are not run again. */
  readonly previous?: ReadonlyMap<string, Step>;
}

export interface RunError {
  readonly type: string;
  readonly message: string;
  /** The node at fault, when one is. */
  readonly step?: string;
}

export type RunResult =
  | { readonly status: 'succeeded'; readonly output: unknown; readonly steps: readonly Step[] }
  | { readonly status: 'failed' | 'timeout'; readonly error: RunError; readonly steps: readonly Step[] }
  | { readonly status: 'interrupted'; readonly steps: readonly Step[] };

// Errors that a retry cannot cure.
const PERMANENT = new Set(['MODULE_NOT_FOUND', 'FUNCTION_NOT_FOUND', 'INPUT_PATH_MISSING', 'PATH_ERROR', 'DATA_TOO_LARGE']);
// The module's queue is full: wait and try again, without spending an attempt.
const SATURATED = 'POOL_SATURATED';
const SATURATED_WAIT_MS = 100;
const TIMEOUT_CODES = new Set(['INVOCATION_TIMEOUT', 'QUEUE_TIMEOUT']);
const MAX_RETRY_WAIT_MS = 60_000;

/**
 * Walks a workflow from its start node. A node runs once every incoming edge
 * is decided and at least one was taken; one whose edges were all not taken is
 * skipped, and so are the nodes only it leads to. Ready nodes run at once, so
 * edges that fire together run their targets in parallel. The first failure
 * (after its retries) stops new steps; steps still running finish and are
 * recorded; the rest are marked skipped.
 */
export function executeRun(workflow: Workflow, input: unknown, env: RunEnv): Promise<RunResult> {
  return new RunExecution(workflow, env).run(input);
}

class RunExecution {
  private readonly steps = new Map<string, Step>();
  private readonly outputs = new Map<string, unknown>();
  private readonly taken = new Map<WorkflowEdge, boolean>();
  private running = 0;
  private calls = 0;
  private failure: RunError | undefined;
  private interrupted = false;
  private ended = false;
  private finish: (result: RunResult) => void = () => undefined;

  constructor(
    private readonly workflow: Workflow,
    private readonly env: RunEnv,
  ) {
    for (const node of workflow.nodes.values()) this.steps.set(node.name, blankStep(node));
  }

  run(input: unknown): Promise<RunResult> {
    const result = new Promise<RunResult>((resolve) => (this.finish = resolve));
    const deadline = setTimeout(() => this.end('timeout'), this.env.limits.maxRunMs);
    void result.finally(() => clearTimeout(deadline));
    this.ready(this.workflow.start, input);
    this.settleIfIdle();
    return result;
  }

  private get stopped(): boolean {
    return this.ended || this.failure !== undefined || this.interrupted;
  }

  private ready(name: string, input: unknown): void {
    const previous = this.env.previous?.get(name);
    if (previous?.status === 'succeeded' && previous.output !== null) {
      // Done before a restart: its recorded output drives the same decisions again.
      this.steps.set(name, previous);
      this.completed(name, JSON.parse(previous.output) as unknown);
      return;
    }
    if (this.stopped) return;
    if (this.env.signal.aborted) {
      this.interrupted = true;
      return;
    }
    this.running += 1;
    void this.execute(this.workflow.nodes.get(name) as WorkflowNode, input, previous)
      .catch((err: unknown) => {
        this.failure ??= { type: 'INTERNAL', message: `step ${name} stopped on an unexpected error: ${(err as Error).message}`, step: name };
      })
      .finally(() => {
        this.running -= 1;
        this.settleIfIdle();
      });
  }

  private async execute(node: WorkflowNode, nodeInput: unknown, previous: Step | undefined): Promise<void> {
    const base = this.steps.get(node.name) as Step;
    const selected = readPath(nodeInput, node.inputPath);
    if (!selected.found) {
      this.stepFailed(node, { ...base, startedAt: this.env.now() }, 'failed', { type: 'INPUT_PATH_MISSING', message: `inputPath ${node.inputPath.text} is not in the node's input` });
      return;
    }
    const eventJson = JSON.stringify(selected.value);
    const startedAt = this.env.now();
    let step: Step = { ...base, status: 'running', input: eventJson, attempts: previous?.attempts ?? 0, startedAt };
    if (Buffer.byteLength(eventJson) > this.env.limits.maxDataBytes) {
      this.stepFailed(node, step, 'failed', this.tooLarge('input', eventJson));
      return;
    }
    for (let tries = 1; ; ) {
      if (this.stopped) return;
      if (this.env.signal.aborted) {
        this.interrupted = true;
        return;
      }
      if (this.calls >= this.env.limits.maxSteps) {
        const message = `the run reached its limit of ${this.env.limits.maxSteps} function calls (HEARTH_WORKFLOW_MAX_STEPS)`;
        this.stepFailed(node, step, 'failed', { type: 'STEP_LIMIT', message });
        return;
      }
      this.calls += 1;
      step = { ...step, attempts: step.attempts + 1 };
      this.record(step);
      let reply: StepReply;
      let output: unknown;
      try {
        reply = await this.env.invoke({ node, eventJson, attempt: step.attempts });
        output = writePath(nodeInput, node.resultPath, reply.result);
      } catch (err) {
        const e = err as { code?: string; message?: string; details?: { type?: string; traceback?: string; logs?: string } };
        const code = err instanceof PathError ? err.code : (e.code ?? 'INTERNAL');
        if (this.env.signal.aborted) {
          // The daemon is stopping (and may have killed the call): the step runs again after the restart.
          this.interrupted = true;
          return;
        }
        if (code === SATURATED) {
          this.calls -= 1;
          step = { ...step, attempts: step.attempts - 1 };
          await pause(SATURATED_WAIT_MS, this.env.signal);
          continue;
        }
        const error: StepError = { type: e.details?.type ?? code, message: String(e.message ?? err), traceback: e.details?.traceback };
        step = { ...step, error, logs: e.details?.logs ?? step.logs };
        if (PERMANENT.has(code) || tries > node.retries) {
          this.stepFailed(node, { ...step, finishedAt: this.env.now() }, TIMEOUT_CODES.has(code) ? 'timeout' : 'failed', error);
          return;
        }
        // Still running, with the failed attempt's error on record while it waits to retry.
        this.record(step);
        await pause(Math.min(MAX_RETRY_WAIT_MS, node.retryDelayMs * 2 ** (tries - 1)), this.env.signal);
        tries += 1;
        continue;
      }
      // The call succeeded: nothing from here on may lead to calling it again.
      const outputJson = JSON.stringify(output) ?? 'null';
      const done = { ...step, logs: reply.logs, durationMs: reply.durationMs, coldStart: reply.coldStart, finishedAt: this.env.now() };
      if (Buffer.byteLength(outputJson) > this.env.limits.maxDataBytes) {
        this.stepFailed(node, done, 'failed', this.tooLarge('output', outputJson));
        return;
      }
      if (this.ended) return;
      this.record({ ...done, status: 'succeeded', output: outputJson });
      this.completed(node.name, output);
      return;
    }
  }

  /** Decides the node's outgoing edges on its output and readies (or skips) what they lead to. */
  private completed(name: string, output: unknown): void {
    this.outputs.set(name, output);
    const edges = this.workflow.outgoing.get(name) ?? [];
    let conditionFired = false;
    for (const edge of edges) {
      if (edge.when === undefined || edge.when === 'otherwise') continue;
      const fires = evaluate(edge.when, output);
      this.taken.set(edge, fires);
      conditionFired ||= fires;
    }
    for (const edge of edges) {
      if (edge.when === undefined) this.taken.set(edge, true);
      else if (edge.when === 'otherwise') this.taken.set(edge, !conditionFired);
    }
    for (const edge of edges) this.decided(edge.to);
  }

  private skipped(name: string): void {
    this.record({ ...(this.steps.get(name) as Step), status: 'skipped' });
    const edges = this.workflow.outgoing.get(name) ?? [];
    for (const edge of edges) this.taken.set(edge, false);
    for (const edge of edges) this.decided(edge.to);
  }

  /** Called as each incoming edge of `name` is decided; acts once all are. */
  private decided(name: string): void {
    const incoming = this.workflow.incoming.get(name) ?? [];
    if (!incoming.every((edge) => this.taken.has(edge))) return;
    const taken = incoming.filter((edge) => this.taken.get(edge) === true);
    if (taken.length === 0) return this.skipped(name);
    // A join gets every taken branch's output by node name; a single incoming edge passes its output through.
    const input = incoming.length === 1 ? this.outputs.get(taken[0]?.from as string) : Object.fromEntries(taken.map((edge) => [edge.from, this.outputs.get(edge.from)]));
    this.ready(name, input);
  }

  private stepFailed(node: WorkflowNode, step: Step, status: 'failed' | 'timeout', error: StepError): void {
    if (this.ended) return;
    this.record({ ...step, status, error, finishedAt: step.finishedAt ?? this.env.now() });
    this.failure ??= { type: error.type, message: `step ${node.name} (${node.module}.${node.fn}) failed: ${error.message}`, step: node.name };
  }

  private tooLarge(what: 'input' | 'output', json: string): StepError {
    return {
      type: 'DATA_TOO_LARGE',
      message: `the step's ${what} is ${Buffer.byteLength(json)} bytes of JSON, over HEARTH_WORKFLOW_MAX_DATA_BYTES (${this.env.limits.maxDataBytes})`,
    };
  }

  /** Keeps the step and reports it. A record that cannot be written (a full disk) fails the run: it stops rather than run steps no one can see. */
  private record(step: Step): void {
    this.steps.set(step.node, step);
    try {
      this.env.onStep(step);
    } catch (err) {
      this.failure ??= { type: 'RECORD_FAILED', message: `the record of step ${step.node} could not be written: ${(err as Error).message}`, step: step.node };
    }
  }

  private settleIfIdle(): void {
    if (this.running > 0 || this.ended) return;
    this.end(this.interrupted ? 'interrupted' : this.failure !== undefined ? 'failed' : 'succeeded');
  }

  private end(how: 'succeeded' | 'failed' | 'timeout' | 'interrupted'): void {
    if (this.ended) return;
    if (how === 'interrupted') {
      this.ended = true;
      return this.finish({ status: 'interrupted', steps: this.list() });
    }
    // Steps still marked running: abandoned at the deadline, or waiting to retry when another step failed.
    for (const step of this.steps.values()) {
      if (step.status !== 'running') continue;
      if (how === 'timeout') {
        this.record({ ...step, status: 'timeout', finishedAt: this.env.now(), error: { type: 'RUN_TIMEOUT', message: 'abandoned when the run reached its time limit' } });
      } else {
        const error = step.error ?? { type: 'CANCELLED', message: 'not tried again: another step failed' };
        this.record({ ...step, status: 'failed', finishedAt: step.finishedAt ?? this.env.now(), error });
      }
    }
    // A failure before the deadline is what the run ended on, even if a sibling then ran out the clock.
    if (how === 'timeout' && this.failure !== undefined) how = 'failed';
    for (const step of this.steps.values()) if (step.status === 'pending') this.record({ ...step, status: 'skipped' });
    this.ended = true;
    const steps = this.list();
    if (how === 'timeout') {
      const message = `the run did not finish within ${this.env.limits.maxRunMs} ms (HEARTH_WORKFLOW_MAX_RUN_MS)`;
      return this.finish({ status: 'timeout', error: { type: 'RUN_TIMEOUT', message }, steps });
    }
    if (how === 'failed') return this.finish({ status: 'failed', error: this.failure as RunError, steps });
    this.finish({ status: 'succeeded', output: this.result(), steps });
  }

  /** The output of the run's last node, or, when it ended in several, an object of their outputs keyed by node. */
  private result(): unknown {
    const leaves = [...this.workflow.nodes.keys()].filter(
      (name) => this.outputs.has(name) && !(this.workflow.outgoing.get(name) ?? []).some((edge) => this.taken.get(edge) === true),
    );
    if (leaves.length === 1) return this.outputs.get(leaves[0] as string);
    return Object.fromEntries(leaves.map((name) => [name, this.outputs.get(name)]));
  }

  /** Steps by start time; those that never started last, in document order. */
  private list(): Step[] {
    const order = [...this.workflow.nodes.keys()];
    return [...this.steps.values()].sort((a, b) => (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || order.indexOf(a.node) - order.indexOf(b.node));
  }
}

function blankStep(node: WorkflowNode): Step {
  return {
    node: node.name,
    function: `${node.module}.${node.fn}`,
    status: 'pending',
    input: null,
    output: null,
    error: null,
    logs: '',
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    coldStart: null,
  };
}

/** Waits, or less when the daemon stops. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
