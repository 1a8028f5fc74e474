import type { Db } from './db.js';
import { newestFirst } from './newest-first.js';

/** One call as recorded: what started it, how it ended, its timings and (capped) logs. Times are epoch ms. */
export interface InvocationRow {
  readonly id: string;
  readonly module: string;
  readonly function: string;
  /** http | async | workflow … */
  readonly trigger: string;
  /** succeeded | handler_error | timeout | crashed | … */
  readonly status: string;
  /** The status a synchronous call answers (or would have) for this outcome. */
  readonly httpStatus: number;
  readonly durationMs: number | null;
  readonly queueMs: number | null;
  readonly coldStart: boolean | null;
  readonly instance: string | null;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly error: { readonly type: string; readonly message: string; readonly traceback?: string } | null;
  readonly logs: string;
  /** What the call belongs to: `job:<id>` or `run:<id>/<node>`; null for a plain call. */
  readonly source: string | null;
}

export interface InvocationQuery {
  readonly module: string;
  readonly status?: string;
  /** Only calls that started at or after this time (epoch ms). */
  readonly since?: number;
  readonly limit: number;
  /** Only calls older than this id (the previous page's last). */
  readonly before?: string;
}

interface RawInvocation {
  id: string;
  module: string;
  function: string;
  trigger: string;
  status: string;
  http_status: number;
  duration_ms: number | null;
  queue_ms: number | null;
  cold_start: number | null;
  instance: string | null;
  started_at: number;
  ended_at: number;
  error: string | null;
  logs: string;
  source: string | null;
}

/** Invocation records, written in batches (one transaction each) and kept by age and count. */
export class InvocationRepository {
  private readonly insertMany;
  private readonly getStmt;
  private readonly purgeAgeStmt;
  private readonly purgeCountStmt;

  constructor(private readonly db: Db) {
    // Positional, not named, parameters: binding from an object costs a third more per row.
    const insert = db.prepare(
      `INSERT OR IGNORE INTO invocations (id, module, function, trigger, status, http_status, duration_ms, queue_ms, cold_start, instance, started_at, ended_at, error, logs, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertMany = db.transaction((rows: readonly InvocationRow[]) => {
      for (const row of rows) {
        insert.run(
          row.id,
          row.module,
          row.function,
          row.trigger,
          row.status,
          row.httpStatus,
          row.durationMs,
          row.queueMs,
          row.coldStart === null ? null : row.coldStart ? 1 : 0,
          row.instance,
          row.startedAt,
          row.endedAt,
          row.error === null ? null : JSON.stringify(row.error),
          row.logs,
          row.source,
        );
      }
    });
    this.getStmt = db.prepare('SELECT * FROM invocations WHERE id = ?');
    this.purgeAgeStmt = db.prepare('DELETE FROM invocations WHERE ended_at < ?');
    // Ids sort by time (ULIDs): everything older than the newest `keep`.
    this.purgeCountStmt = db.prepare('DELETE FROM invocations WHERE id < (SELECT id FROM invocations ORDER BY id DESC LIMIT 1 OFFSET ?)');
  }

  addAll(rows: readonly InvocationRow[]): void {
    this.insertMany(rows);
  }

  get(id: string): InvocationRow | undefined {
    const raw = this.getStmt.get(id) as RawInvocation | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  /** Newest first; `before` is the cursor. */
  list(query: InvocationQuery): InvocationRow[] {
    return newestFirst<RawInvocation>(this.db, 'invocations', {
      equal: { module: query.module, status: query.status },
      atLeast: { started_at: query.since },
      before: query.before,
      limit: query.limit,
    }).map(fromRaw);
  }


  /** Deletes records that ended before `cutoff`, then all but the newest `keep`; returns how many went. */
  purge(cutoff: number, keep: number): number {
    return this.purgeAgeStmt.run(cutoff).changes + this.purgeCountStmt.run(keep - 1).changes;
  }
}

function fromRaw(raw: RawInvocation): InvocationRow {
  return {
    id: raw.id,
    module: raw.module,
    function: raw.function,
    trigger: raw.trigger,
    status: raw.status,
    httpStatus: raw.http_status,
    durationMs: raw.duration_ms,
    queueMs: raw.queue_ms,
    coldStart: raw.cold_start === null ? null : raw.cold_start === 1,
    instance: raw.instance,
    startedAt: raw.started_at,
    endedAt: raw.ended_at,
    error: raw.error === null ? null : (JSON.parse(raw.error) as InvocationRow['error']),
    logs: raw.logs,
    source: raw.source,
  };
}
