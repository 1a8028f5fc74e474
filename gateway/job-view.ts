import type { JobRow } from '../store/index.js';

/** The job record of GET /async/:id (and of callbacks): times as ISO strings, the result as JSON. */
export function jobView(row: JobRow): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    module: row.module,
    function: row.function,
    status: row.status,
    trigger: row.trigger,
    ...(row.outputs === null ? {} : { outputs: row.outputs }),
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    error: row.error,
    logs: row.logs,
    attempts: row.attempts,
    createdAt: iso(row.createdAt),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
    durationMs: row.durationMs,
    queueMs: row.queueMs,
    coldStart: row.coldStart,
    callback: row.callback === null ? null : { ...row.callback, deliveredAt: iso(row.callback.deliveredAt ?? null) },
  };
}
