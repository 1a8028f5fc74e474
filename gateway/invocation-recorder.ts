import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { InvocationRepository, InvocationRow } from '../store/index.js';
import { purgeEvery } from './completion-waiters.js';

export interface RecorderSettings {
  /** Longest a record waits in memory before its batch is written. */
  readonly flushMs: number;
  /** A batch this large is written at once. */
  readonly maxBatch: number;
  /** Records older than this are purged. */
  readonly ttlMs: number;
  /** At most this many records are kept (the newest). */
  readonly maxRecords: number;
}

/**
 * Keeps invocation records off the hot path: a call only appends its record
 * to a batch; the batch is written in one transaction within `flushMs` (or at
 * once when it is full). Followers (live logs) get each record as it ends.
 */
export class InvocationRecorder {
  private batch: InvocationRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly live = new EventEmitter();

  constructor(
    private readonly repository: InvocationRepository,
    private readonly settings: RecorderSettings,
    private readonly log: Logger,
  ) {
    this.live.setMaxListeners(0);
  }

  start(): void {
    this.purgeTimer = purgeEvery(this.settings.ttlMs, () => this.purge());
  }

  record(row: InvocationRow): void {
    this.batch.push(row);
    if (this.live.listenerCount(row.module) > 0) this.live.emit(row.module, row);
    if (this.batch.length >= this.settings.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.settings.flushMs);
  }

  /** Writes what waits; readers call it first so they see every call that has ended. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    try {
      this.repository.addAll(batch);
    } catch (err) {
      // A full disk, say: the calls themselves succeeded; losing their records must not fail later calls.
      this.log.error({ err, records: batch.length }, 'could not write invocation records');
    }
  }

  /** Calls `listener` with each record of `module` as its call ends; returns the unsubscribe function. */
  follow(module: string, listener: (row: InvocationRow) => void): () => void {
    this.live.on(module, listener);
    return () => this.live.off(module, listener);
  }

  get(id: string): InvocationRow | undefined {
    this.flush();
    return this.repository.get(id);
  }

  list(query: Parameters<InvocationRepository['list']>[0]): InvocationRow[] {
    this.flush();
    return this.repository.list(query);
  }

  purge(): number {
    this.flush();
    const removed = this.repository.purge(Date.now() - this.settings.ttlMs, this.settings.maxRecords);
    if (removed > 0) this.log.info({ removed }, 'purged invocation records past HEARTH_INVOCATION_TTL / HEARTH_INVOCATION_MAX_RECORDS');
    return removed;
  }

  close(): void {
    clearInterval(this.purgeTimer);
    this.flush();
  }
}
