import type { InvokeOutcome, PoolManager } from '../pool/index.js';
import { callStatus, type Metrics } from './metrics.js';

/**
 * Every call (HTTP, async job, workflow step) goes to the pools through here,
 * so each is counted once, in one place, whatever started it.
 */
export class Invoker {
  constructor(
    private readonly pools: PoolManager,
    private readonly metrics: Metrics,
  ) {}

  async invoke(module: string, fn: string, body: string, trigger: string, options?: { readonly timeoutMs?: number }): Promise<InvokeOutcome> {
    let outcome: InvokeOutcome;
    try {
      outcome = await this.pools.invoke(module, fn, body, options);
    } catch (err) {
      this.metrics.callEnded(module, fn, trigger, callStatus(err));
      throw err;
    }
    const reply = outcome.reply;
    this.metrics.callEnded(module, fn, trigger, reply.ok ? 'succeeded' : 'handler_error', { durationMs: reply.durationMs, coldStart: outcome.coldStart });
    return outcome;
  }
}
