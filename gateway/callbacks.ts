import type { Logger } from 'pino';
import type { CallbackState, JobRepository, JobRow } from '../store/index.js';
import { CallbackNotAllowedError } from './errors.js';
import { jobView } from './job-view.js';

export interface CallbackOptions {
  /** URL prefixes a callback must start with; empty: any http(s) URL. */
  readonly allow: readonly string[];
  readonly maxAttempts?: number;
  /** First retry delay; doubled each time. */
  readonly backoffMs?: number;
  readonly timeoutMs?: number;
}

const MAX_BACKOFF_MS = 60_000;

/**
 * POSTs a finished job's record to its X-Callback-Url, retrying with
 * exponential backoff a bounded number of times; the delivery state is part of
 * the job record, so a restart resumes what was still pending.
 */
export class CallbackSender {
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly jobs: JobRepository,
    private readonly options: CallbackOptions,
    private readonly log: Logger,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The X-Callback-Url of a request, validated (a clear 400 now instead of a silent failure later); null without one. */
  fromHeader(header: string | string[] | undefined): string | null {
    return typeof header === 'string' ? this.check(header) : null;
  }

  private check(url: string): string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CallbackNotAllowedError(`X-Callback-Url is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new CallbackNotAllowedError(`X-Callback-Url must be http or https, not ${parsed.protocol}`);
    }
    if (this.options.allow.length > 0 && !this.options.allow.some((prefix) => parsed.href.startsWith(prefix))) {
      throw new CallbackNotAllowedError(`X-Callback-Url ${parsed.href} is not allowed here (HEARTH_CALLBACK_ALLOW)`);
    }
    return parsed.href;
  }

  deliver(row: JobRow): void {
    if (row.callback === null || row.callback.status !== 'pending') return;
    void this.attempt(row, row.callback);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async attempt(row: JobRow, state: CallbackState): Promise<void> {
    if (this.closed) return;
    const attempts = state.attempts + 1;
    let error: string | undefined;
    try {
      const res = await fetch(state.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hearth-job-id': row.id },
        body: JSON.stringify(jobView(row)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (this.closed) return;
    if (error === undefined) {
      this.jobs.setCallback(row.id, { url: state.url, status: 'delivered', attempts, deliveredAt: Date.now() });
      return;
    }
    const failed = attempts >= this.maxAttempts;
    const next: CallbackState = { url: state.url, status: failed ? 'failed' : 'pending', attempts, lastError: error };
    this.jobs.setCallback(row.id, next);
    if (failed) {
      this.log.warn({ job: row.id, url: state.url, attempts, error }, 'callback not delivered; giving up');
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(row, next);
    }, Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** (attempts - 1)));
    timer.unref();
    this.timers.add(timer);
  }
}
