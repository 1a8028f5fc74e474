import type { Db } from './db.js';
import { newestFirst } from './newest-first.js';

/** A saved workflow document. The store keeps it opaque; the gateway validates it. */
export interface WorkflowRow {
  readonly name: string;
  readonly definition: Readonly<Record<string, unknown>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface RawWorkflow {
  name: string;
  definition: string;
  created_at: string;
  updated_at: string;
}

/** The workflows table: one row per name. */
export class WorkflowRepository {
  private readonly upsert;
  private readonly getStmt;
  private readonly listStmt;
  private readonly deleteStmt;

  constructor(db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO workflows (name, definition, created_at, updated_at) VALUES (@name, @definition, @now, @now)
       ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
       RETURNING *`,
    );
    this.getStmt = db.prepare('SELECT * FROM workflows WHERE name = ?');
    this.listStmt = db.prepare('SELECT * FROM workflows ORDER BY name');
    this.deleteStmt = db.prepare('DELETE FROM workflows WHERE name = ?');
  }

  /** Creates or replaces; `created` tells which. */
  save(name: string, definition: object, now: Date): { row: WorkflowRow; created: boolean } {
    const created = this.getStmt.get(name) === undefined;
    const raw = this.upsert.get({ name, definition: JSON.stringify(definition), now: now.toISOString() }) as RawWorkflow;
    return { row: fromRawWorkflow(raw), created };
  }

  get(name: string): WorkflowRow | undefined {
    const raw = this.getStmt.get(name) as RawWorkflow | undefined;
    return raw === undefined ? undefined : fromRawWorkflow(raw);
  }

  list(): WorkflowRow[] {
    return (this.listStmt.all() as RawWorkflow[]).map(fromRawWorkflow);
  }

  delete(name: string): boolean {
    return this.deleteStmt.run(name).changes > 0;
  }
}

function fromRawWorkflow(raw: RawWorkflow): WorkflowRow {
  return { name: raw.name, definition: JSON.parse(raw.definition) as Record<string, unknown>, createdAt: raw.created_at, updatedAt: raw.updated_at };
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'timeout';
export type RunMode = 'sync' | 'async';

export interface RunErrorRecord {
  readonly type: string;
  readonly message: string;
  readonly step?: string;
}

export interface RunRow {
  readonly id: string;
  readonly workflow: string;
  /** The document the run started with: a later save does not change a run under way. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly mode: RunMode;
  readonly status: RunStatus;
  readonly input: string;
  readonly output: string | null;
  readonly error: RunErrorRecord | null;
  /** Starts of this run: 1, plus one per daemon restart that resumed it. */
  readonly attempts: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** One node's record in one run (the shape of workflows/ Step). */
export interface StepRow {
  readonly node: string;
  readonly function: string;
  readonly status: 'pending' | 'running' | 'succeeded' | 'failed' | 'timeout' | 'skipped';
  readonly input: string | null;
  readonly output: string | null;
  readonly error: { readonly type: string; readonly message: string; readonly traceback?: string } | null;
  readonly logs: string;
  readonly attempts: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly coldStart: boolean | null;
}

export interface NewRun {
  readonly id: string;
  readonly workflow: string;
  readonly definition: object;
  readonly mode: RunMode;
  readonly input: string;
  readonly createdAt: number;
}

export interface RunQuery {
  readonly workflow?: string;
  readonly status?: RunStatus;
  readonly limit: number;
  readonly before?: string;
}

interface RawRun {
  id: string;
  workflow: string;
  definition: string;
  mode: RunMode;
  status: RunStatus;
  input: string;
  output: string | null;
  error: string | null;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

interface RawStep {
  node: string;
  function: string;
  status: StepRow['status'];
  input: string | null;
  output: string | null;
  error: string | null;
  logs: string;
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  cold_start: number | null;
}

/** Workflow runs and their steps. State changes are conditional UPDATEs, as for jobs. */
export class RunRepository {
  private readonly insert;
  private readonly getStmt;
  private readonly stepsStmt;
  private readonly stepStmt;
  private readonly startStmt;
  private readonly finishStmt;
  private readonly purgeStmt;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO workflow_runs (id, workflow, definition, mode, status, input, attempts, created_at, started_at)
       VALUES (@id, @workflow, @definition, @mode, @status, @input, @attempts, @createdAt, @startedAt)`,
    );
    this.getStmt = db.prepare('SELECT * FROM workflow_runs WHERE id = ?');
    this.stepsStmt = db.prepare('SELECT * FROM workflow_steps WHERE run_id = ? ORDER BY started_at IS NULL, started_at, rowid');
    this.stepStmt = db.prepare(
      `INSERT INTO workflow_steps (run_id, node, function, status, input, output, error, logs, attempts, started_at, finished_at, duration_ms, cold_start)
       VALUES (@runId, @node, @function, @status, @input, @output, @error, @logs, @attempts, @startedAt, @finishedAt, @durationMs, @coldStart)
       ON CONFLICT (run_id, node) DO UPDATE SET status = excluded.status, input = excluded.input, output = excluded.output,
         error = excluded.error, logs = excluded.logs, attempts = excluded.attempts, started_at = excluded.started_at,
         finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, cold_start = excluded.cold_start`,
    );
    this.startStmt = db.prepare(
      `UPDATE workflow_runs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, @now)
       WHERE id = @id AND status IN ('queued', 'running') RETURNING *`,
    );
    this.finishStmt = db.prepare(
      `UPDATE workflow_runs SET status = @status, output = @output, error = @error, finished_at = @finishedAt
       WHERE id = @id AND status = 'running' RETURNING *`,
    );
    this.purgeStmt = db.prepare(`DELETE FROM workflow_runs WHERE finished_at IS NOT NULL AND finished_at < ?`);
  }

  /** A sync run is stored as running (started); an async one as queued. */
  add(run: NewRun): RunRow {
    const running = run.mode === 'sync';
    this.insert.run({
      ...run,
      definition: JSON.stringify(run.definition),
      status: running ? 'running' : 'queued',
      attempts: running ? 1 : 0,
      startedAt: running ? run.createdAt : null,
    });
    return this.get(run.id) as RunRow;
  }

  get(id: string): RunRow | undefined {
    const raw = this.getStmt.get(id) as RawRun | undefined;
    return raw === undefined ? undefined : fromRawRun(raw);
  }

  steps(id: string): StepRow[] {
    return (this.stepsStmt.all(id) as RawStep[]).map(fromRawStep);
  }

  saveStep(runId: string, step: StepRow): void {
    this.stepStmt.run({
      runId,
      ...step,
      error: step.error === null ? null : JSON.stringify(step.error),
      coldStart: step.coldStart === null ? null : step.coldStart ? 1 : 0,
    });
  }

  /** queued or running (after a restart) → running, counting the start. */
  start(id: string, now: number): RunRow | undefined {
    const raw = this.startStmt.get({ id, now }) as RawRun | undefined;
    return raw === undefined ? undefined : fromRawRun(raw);
  }

  finish(id: string, outcome: { status: Exclude<RunStatus, 'queued' | 'running'>; output: string | null; error: RunErrorRecord | null; finishedAt: number }): RunRow | undefined {
    const raw = this.finishStmt.get({ id, ...outcome, error: outcome.error === null ? null : JSON.stringify(outcome.error) }) as RawRun | undefined;
    return raw === undefined ? undefined : fromRawRun(raw);
  }

  /** Runs in a status, oldest first (start-up recovery). */
  withStatus(status: RunStatus): RunRow[] {
    return (this.db.prepare('SELECT * FROM workflow_runs WHERE status = ? ORDER BY id').all(status) as RawRun[]).map(fromRawRun);
  }

  /** Newest first; `before` is the cursor. */
  list(query: RunQuery): RunRow[] {
    return newestFirst<RawRun>(this.db, 'workflow_runs', {
      equal: { workflow: query.workflow, status: query.status },
      before: query.before,
      limit: query.limit,
    }).map(fromRawRun);
  }


  /** Deletes finished runs (and their steps) older than `cutoff`. */
  purge(cutoff: number): number {
    return this.purgeStmt.run(cutoff).changes;
  }
}

function fromRawRun(raw: RawRun): RunRow {
  return {
    id: raw.id,
    workflow: raw.workflow,
    definition: JSON.parse(raw.definition) as Record<string, unknown>,
    mode: raw.mode,
    status: raw.status,
    input: raw.input,
    output: raw.output,
    error: raw.error === null ? null : (JSON.parse(raw.error) as RunErrorRecord),
    attempts: raw.attempts,
    createdAt: raw.created_at,
    startedAt: raw.started_at,
    finishedAt: raw.finished_at,
  };
}

function fromRawStep(raw: RawStep): StepRow {
  return {
    node: raw.node,
    function: raw.function,
    status: raw.status,
    input: raw.input,
    output: raw.output,
    error: raw.error === null ? null : (JSON.parse(raw.error) as StepRow['error']),
    logs: raw.logs,
    attempts: raw.attempts,
    startedAt: raw.started_at,
    finishedAt: raw.finished_at,
    durationMs: raw.duration_ms,
    coldStart: raw.cold_start === null ? null : raw.cold_start === 1,
  };
}
