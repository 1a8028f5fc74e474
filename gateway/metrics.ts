import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolManager } from '../pool/index.js';
import type { JobRepository } from '../store/index.js';

export type CallStatus = 'succeeded' | 'handler_error' | 'timeout' | 'crashed' | 'saturated' | 'start_failed' | 'not_found' | 'shutting_down' | 'error';

// Pool and gateway error codes, folded into a short, bounded set of label values.
const STATUS_BY_CODE: Readonly<Record<string, CallStatus>> = {
  INVOCATION_TIMEOUT: 'timeout',
  QUEUE_TIMEOUT: 'timeout',
  INSTANCE_CRASHED: 'crashed',
  POOL_SATURATED: 'saturated',
  INSTANCE_START_FAILED: 'start_failed',
  MODULE_NOT_FOUND: 'not_found',
  FUNCTION_NOT_FOUND: 'not_found',
  SHUTTING_DOWN: 'shutting_down',
};

export function callStatus(err: unknown): CallStatus {
  const code = (err as { code?: unknown } | undefined)?.code;
  return (typeof code === 'string' ? STATUS_BY_CODE[code] : undefined) ?? 'error';
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The daemon's Prometheus metrics (prom-client), in a registry of its own (no
 * global state, so two daemons in one test process do not mix). Calls are
 * counted as they end; pools and jobs are read when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'module' | 'function' | 'status' | 'trigger'>;
  private readonly duration: Histogram<'module' | 'function' | 'trigger'>;
  private readonly coldStarts: Counter<'module'>;
  private readonly queue: Histogram<'module'>;
  private readonly coldStartDuration: Histogram<'module'>;
  private readonly builds: Counter<'module' | 'result'>;
  private readonly buildDuration: Histogram<'result'>;

  constructor(sources: { readonly pools: PoolManager; readonly jobs: JobRepository }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hearth_' });
    this.calls = new Counter({ name: 'hearth_calls_total', help: 'Function calls that ended, by outcome and trigger', labelNames: ['module', 'function', 'status', 'trigger'], registers });
    this.duration = new Histogram({
      name: 'hearth_call_duration_seconds',
      help: "The function's own run time per call (as the runtime measured it)",
      labelNames: ['module', 'function', 'trigger'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.queue = new Histogram({
      name: 'hearth_call_queue_seconds',
      help: 'How long calls waited for an instance (a free slot, a cold start, a thaw)',
      labelNames: ['module'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.coldStartDuration = new Histogram({
      name: 'hearth_cold_start_seconds',
      help: 'How long calls that found no warm instance waited for one to start',
      labelNames: ['module'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.builds = new Counter({ name: 'hearth_builds_total', help: 'Image (or build folder) builds, by result', labelNames: ['module', 'result'], registers });
    this.buildDuration = new Histogram({
      name: 'hearth_build_duration_seconds',
      help: 'How long builds took',
      labelNames: ['result'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.coldStarts = new Counter({ name: 'hearth_cold_starts_total', help: 'Calls that waited for an instance to start', labelNames: ['module'], registers });
    const { pools, jobs } = sources;
    new Gauge({
      name: 'hearth_instances',
      help: 'Instances by module and state',
      labelNames: ['module', 'state'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools.overview().pools) for (const [state, n] of Object.entries(pool.byState)) this.set({ module: pool.module, state }, n);
      },
    });
    new Gauge({
      name: 'hearth_queue_depth',
      help: 'Calls waiting for a free instance, by module',
      labelNames: ['module'],
      registers,
      collect() {
        this.reset();
        for (const pool of pools.overview().pools) this.set({ module: pool.module }, pool.queued);
      },
    });
    new Gauge({
      name: 'hearth_jobs',
      help: 'Async jobs kept in SQLite, by status',
      labelNames: ['status'],
      registers,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(jobs.countByStatus())) this.set({ status }, n);
      },
    });
  }

  callEnded(
    module: string,
    fn: string,
    trigger: string,
    status: CallStatus,
    outcome?: { readonly durationMs: number; readonly coldStart: boolean; readonly queueMs: number },
  ): void {
    this.calls.inc({ module, function: fn, status, trigger });
    if (outcome === undefined) return;
    this.duration.observe({ module, function: fn, trigger }, outcome.durationMs / 1000);
    this.queue.observe({ module }, outcome.queueMs / 1000);
    if (!outcome.coldStart) return;
    this.coldStarts.inc({ module });
    this.coldStartDuration.observe({ module }, outcome.queueMs / 1000);
  }

  buildEnded(module: string, seconds: number, ok: boolean): void {
    const result = ok ? 'succeeded' : 'failed';
    this.builds.inc({ module, result });
    this.buildDuration.observe({ result }, seconds);
  }
}
