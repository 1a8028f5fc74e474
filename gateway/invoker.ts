import type { InvokeOutcome, PoolManager } from '../pool/index.js';
import type { InvocationRow } from '../store/index.js';
import { cutLogs } from './cut-logs.js';
import { idGenerator } from './ids.js';
import { toHttpError } from './http-errors.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import type { LatencyWindow } from './latency-window.js';
import { callStatus, type Metrics } from './metrics.js';

/** What started a call, and how to file it. */
export interface CallMeta {
  /** http | async | workflow */
  readonly trigger: string;
  /** The call id (X-Hearth-Call-Id); a new ULID when not given. */
  readonly id?: string;
  /** `job:<id>`, `run:<id>/<node>`. */
  readonly source?: string;
  /** Narrows the module's timeoutMs for this call. */
  readonly timeoutMs?: number;
}

export interface InvokerDeps {
  readonly pools: PoolManager;
  readonly metrics: Metrics;
  readonly recorder: InvocationRecorder;
  readonly latency: LatencyWindow;
  readonly maxLogBytes: number;
}

/**
 * Every call (HTTP, async job, workflow step) goes to the pools through here,
 * so each is counted and recorded once, in one place, whatever started it.
 * Recording only appends to a batch (written later, never on the call's path).
 */
export class Invoker {
  private readonly newId = idGenerator();

  constructor(private readonly deps: InvokerDeps) {}

  async invoke(module: string, fn: string, body: string, meta: CallMeta): Promise<InvokeOutcome & { readonly callId: string }> {
    const callId = meta.id ?? this.newId();
    const startedAt = Date.now();
    let outcome: InvokeOutcome;
    try {
      outcome = await this.deps.pools.invoke(module, fn, body, meta.timeoutMs === undefined ? undefined : { timeoutMs: meta.timeoutMs });
    } catch (err) {
      const status = callStatus(err);
      this.deps.metrics.callEnded(module, fn, meta.trigger, status);
      const e = err as { code?: string; message?: string; details?: { logs?: unknown } };
      this.record(callId, module, fn, meta, startedAt, {
        status,
        httpStatus: toHttpError(err).status,
        durationMs: null,
        queueMs: null,
        coldStart: null,
        instance: null,
        error: { type: e.code ?? 'Error', message: String(e.message ?? err) },
        logs: typeof e.details?.logs === 'string' ? e.details.logs : '',
      });
      throw err;
    }
    const reply = outcome.reply;
    const status = reply.ok ? 'succeeded' : 'handler_error';
    this.deps.metrics.callEnded(module, fn, meta.trigger, status, { durationMs: reply.durationMs, coldStart: outcome.coldStart, queueMs: outcome.queueMs });
    this.deps.latency.add(module, reply.durationMs);
    this.record(callId, module, fn, meta, startedAt, {
      status,
      httpStatus: reply.ok ? 200 : 500,
      durationMs: reply.durationMs,
      queueMs: outcome.queueMs,
      coldStart: outcome.coldStart,
      instance: outcome.instanceId,
      error: reply.ok ? null : (reply.error ?? { type: 'Error', message: 'the handler failed', traceback: '' }),
      logs: reply.logs,
    });
    return { ...outcome, callId };
  }

  /** The call's record: what every outcome shares, plus how this one ended (one object of one shape, built once: this runs for every call). */
  private record(id: string, module: string, fn: string, meta: CallMeta, startedAt: number, ended: Ended): void {
    this.deps.recorder.record({
      id,
      module,
      function: fn,
      trigger: meta.trigger,
      status: ended.status,
      httpStatus: ended.httpStatus,
      durationMs: ended.durationMs,
      queueMs: ended.queueMs,
      coldStart: ended.coldStart,
      instance: ended.instance,
      startedAt,
      endedAt: Date.now(),
      error: ended.error,
      logs: cutLogs(ended.logs, this.deps.maxLogBytes),
      source: meta.source ?? null,
    });
  }
}

type Ended = Omit<InvocationRow, 'id' | 'module' | 'function' | 'trigger' | 'startedAt' | 'endedAt' | 'source'>;
