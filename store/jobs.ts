import type { Db } from './db.js';
import { newestFirst } from './newest-first.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'timeout' | 'cancelled';
export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'timeout', 'cancelled'];

export interface JobError {
  readonly type: string;
  readonly message: string;
  readonly traceback: string;
}

/** Delivery of the final record to X-Callback-Url. */
export interface CallbackState {
  readonly url: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly lastError?: string;
  readonly deliveredAt?: number;
}

export interface JobRow {
  readonly id: string;
  readonly module: string;
  readonly function: string;
  readonly status: JobStatus;
  /** The invocation body (event and context) as sent to the runtime: a retry sends it again. */
  readonly payload: string;
  /** The handler's return value as JSON text. */
  readonly result: string | null;
  readonly error: JobError | null;
  readonly logs: string | null;
  readonly attempts: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly queueMs: number | null;
  readonly coldStart: boolean | null;
  readonly callback: CallbackState | null;
  /** async (an HTTP submission), cron, file */
  readonly trigger: string;
  /** What a file-triggered job stored: `bucket/key` of each output. */
  readonly outputs: readonly string[] | null;
}

export interface NewJob {
  readonly id: string;
  /** Default async. */
  readonly trigger?: string;
  readonly module: string;
  readonly function: string;
  readonly payload: string;
  readonly createdAt: number;
  readonly callbackUrl: string | null;
  /** respond-async: the call already runs when the row is written. */
  readonly running?: { readonly startedAt: number };
}

export interface JobOutcome {
  readonly status: Extract<JobStatus, 'succeeded' | 'failed' | 'timeout'>;
  readonly result: string | null;
  readonly error: JobError | null;
  readonly logs: string;
  readonly finishedAt: number;
  readonly durationMs: number | null;
  readonly coldStart: boolean | null;
  readonly outputs?: readonly string[];
}

export interface JobQuery {
  readonly module?: string;
  readonly status?: JobStatus;
  readonly limit: number;
  /** Only jobs older than this id (the previous page's last). */
  readonly before?: string;
}

interface RawJob {
  id: string;
  module: string;
  function: string;
  status: JobStatus;
  payload: string;
  result: string | null;
  error: string | null;
  logs: string | null;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  queue_ms: number | null;
  cold_start: number | null;
  callback_url: string | null;
  callback: string | null;
  trigger: string;
  outputs: string | null;
}

/**
 * Async jobs. Every state change is one conditional UPDATE, so two actors (the
 * runner and a DELETE) can never both win: cancel only moves a queued job,
 * claim only a queued one, finish only a running one.
 */
export class JobRepository {
  private readonly insert;
  private readonly getStmt;
  private readonly claimStmt;
  private readonly requeueStmt;
  private readonly finishStmt;
  private readonly cancelStmt;
  private readonly callbackStmt;
  private readonly purgeStmt;
  private readonly insertMany;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO jobs (id, module, function, status, payload, attempts, created_at, started_at, callback_url, callback, trigger)
       VALUES (@id, @module, @function, @status, @payload, @attempts, @createdAt, @startedAt, @callbackUrl, @callback, @trigger)`,
    );
    this.insertMany = db.transaction((jobs: readonly NewJob[]) => {
      for (const job of jobs) this.insert.run(toInsert(job));
    });
    this.getStmt = db.prepare('SELECT * FROM jobs WHERE id = ?');
    this.claimStmt = db.prepare(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = @now, queue_ms = @now - created_at
       WHERE id = @id AND status = 'queued' RETURNING *`,
    );
    this.requeueStmt = db.prepare(`UPDATE jobs SET status = 'queued', attempts = MAX(attempts - @refund, 0) WHERE id = @id AND status = 'running'`);
    this.finishStmt = db.prepare(
      `UPDATE jobs SET status = @status, result = @result, error = @error, logs = @logs, finished_at = @finishedAt,
         duration_ms = @durationMs, cold_start = @coldStart, outputs = @outputs
       WHERE id = @id AND status = 'running' RETURNING *`,
    );
    this.cancelStmt = db.prepare(
      `UPDATE jobs SET status = 'cancelled', finished_at = @now
       WHERE id = @id AND status = 'queued' RETURNING *`,
    );
    this.callbackStmt = db.prepare('UPDATE jobs SET callback = ? WHERE id = ?');
    this.purgeStmt = db.prepare(`DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN ('succeeded', 'failed', 'timeout', 'cancelled')`);
  }

  /** Commits every job in one transaction (group commit for a burst of submissions). */
  addAll(jobs: readonly NewJob[]): void {
    this.insertMany(jobs);
  }

  get(id: string): JobRow | undefined {
    const raw = this.getStmt.get(id) as RawJob | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  /** queued → running, counting the attempt; undefined when the job is no longer queued (cancelled). */
  claim(id: string, now: number): JobRow | undefined {
    const raw = this.claimStmt.get({ id, now }) as RawJob | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  /** running → queued; `refund` gives back the attempt (a graceful stop is not the job's fault). */
  requeue(id: string, refund: boolean): void {
    this.requeueStmt.run({ id, refund: refund ? 1 : 0 });
  }

  finish(id: string, outcome: JobOutcome): JobRow | undefined {
    const raw = this.finishStmt.get({
      id,
      status: outcome.status,
      result: outcome.result,
      error: outcome.error === null ? null : JSON.stringify(outcome.error),
      logs: outcome.logs,
      finishedAt: outcome.finishedAt,
      durationMs: outcome.durationMs,
      coldStart: outcome.coldStart === null ? null : outcome.coldStart ? 1 : 0,
      outputs: outcome.outputs === undefined ? null : JSON.stringify(outcome.outputs),
    }) as RawJob | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  cancel(id: string, now: number): JobRow | undefined {
    const raw = this.cancelStmt.get({ id, now }) as RawJob | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  setCallback(id: string, state: CallbackState): void {
    this.callbackStmt.run(JSON.stringify(state), id);
  }

  /** Newest first; `before` is the cursor. */
  list(query: JobQuery): JobRow[] {
    return newestFirst<RawJob>(this.db, 'jobs', { equal: { module: query.module, status: query.status }, before: query.before, limit: query.limit }).map(fromRaw);
  }


  /** Ids of jobs in a status, oldest first (start-up recovery). */
  idsWithStatus(status: JobStatus): { id: string; module: string; attempts: number }[] {
    return this.db.prepare('SELECT id, module, attempts FROM jobs WHERE status = ? ORDER BY id').all(status) as {
      id: string;
      module: string;
      attempts: number;
    }[];
  }

  /** Finished jobs whose callback has not been delivered yet (a restart resumes them). */
  pendingCallbacks(): JobRow[] {
    return (
      this.db.prepare(`SELECT * FROM jobs WHERE finished_at IS NOT NULL AND json_extract(callback, '$.status') = 'pending'`).all() as RawJob[]
    ).map(fromRaw);
  }

  /** Deletes finished jobs older than `cutoff`; returns how many. */
  purge(cutoff: number): number {
    return this.purgeStmt.run(cutoff).changes;
  }

  countByStatus(): Record<string, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }
}

function toInsert(job: NewJob): Record<string, unknown> {
  return {
    id: job.id,
    module: job.module,
    function: job.function,
    status: job.running === undefined ? 'queued' : 'running',
    payload: job.payload,
    attempts: job.running === undefined ? 0 : 1,
    createdAt: job.createdAt,
    startedAt: job.running?.startedAt ?? null,
    callbackUrl: job.callbackUrl,
    callback: job.callbackUrl === null ? null : JSON.stringify({ url: job.callbackUrl, status: 'pending', attempts: 0 }),
    trigger: job.trigger ?? 'async',
  };
}

function fromRaw(raw: RawJob): JobRow {
  return {
    id: raw.id,
    module: raw.module,
    function: raw.function,
    status: raw.status,
    payload: raw.payload,
    result: raw.result,
    error: raw.error === null ? null : (JSON.parse(raw.error) as JobError),
    logs: raw.logs,
    attempts: raw.attempts,
    createdAt: raw.created_at,
    startedAt: raw.started_at,
    finishedAt: raw.finished_at,
    durationMs: raw.duration_ms,
    queueMs: raw.queue_ms,
    coldStart: raw.cold_start === null ? null : raw.cold_start === 1,
    callback: raw.callback === null ? null : (JSON.parse(raw.callback) as CallbackState),
    trigger: raw.trigger,
    outputs: raw.outputs === null ? null : (JSON.parse(raw.outputs) as string[]),
  };
}
