import type { RunRow, StepRow } from '../store/index.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const json = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

/** A step of GET /workflows/runs/:id: JSON values parsed back, times as ISO strings. */
export function stepView(step: StepRow): Record<string, unknown> {
  return {
    node: step.node,
    function: step.function,
    status: step.status,
    attempts: step.attempts,
    input: json(step.input),
    output: json(step.output),
    error: step.error,
    logs: step.logs,
    startedAt: iso(step.startedAt),
    finishedAt: iso(step.finishedAt),
    durationMs: step.durationMs,
    coldStart: step.coldStart,
  };
}

/** A run with its steps (by start time; those never started last). */
export function runView(run: RunRow, steps: readonly StepRow[] | undefined): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: run.id,
    workflow: run.workflow,
    mode: run.mode,
    status: run.status,
    input: json(run.input),
    output: json(run.output),
    error: run.error,
    attempts: run.attempts,
    createdAt: iso(run.createdAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    durationMs: run.finishedAt === null || run.startedAt === null ? null : run.finishedAt - run.startedAt,
  };
  if (steps !== undefined) view.steps = steps.map(stepView);
  return view;
}
