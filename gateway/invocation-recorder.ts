import type { Logger } from 'pino';
import type { InvocationRepository, InvocationRow } from '../store/index.js';
import { purgeEvery } from './completion-waiters.js';

export interface RecorderSettings {
  /** Longest a record waits in memory before its batch is written. */
  readonly flushMs: number;
  /** A batch this large is written at the next turn of the event loop rather than after flushMs. */
  readonly maxBatch: number;
  /** Records older than this are purged. */
  readonly ttlMs: number;
  /** At most this many records are kept (the newest). */
  readonly maxRecords: number;
}

type Listener = (row: InvocationRow) => void;

/**
 * Keeps invocation records off the call's path: a call only appends its
 * record to a batch; the batch is written in one transaction within
 * `flushMs`, or at the next turn of the event loop once it is full.
 * Followers (live logs) get each record as its call ends.
 */
export class InvocationRecorder {
  private batch: InvocationRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  // By module name; a Map, not an EventEmitter: module names are user text ("newListener" is a valid one).
  private readonly followers = new Map<string, Set<Listener>>();
  private writtenSincePurge = 0;

  constructor(
    private readonly repository: InvocationRepository,
    private readonly settings: RecorderSettings,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.purgeTimer = purgeEvery(this.settings.ttlMs, () => this.purge());
  }

  record(row: InvocationRow): void {
    this.batch.push(row);
    const listeners = this.followers.get(row.module);
    if (listeners !== undefined) for (const listener of listeners) listener(row);
    if (this.batch.length >= this.settings.maxBatch) this.immediate ??= setImmediate(() => this.flush());
    else this.timer ??= setTimeout(() => this.flush(), this.settings.flushMs);
  }

  /** Writes what waits; readers call it first so they see every call that has ended. */
  flush(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    try {
      this.repository.addAll(batch);
    } catch (err) {
      // A full disk, say: the calls themselves succeeded; losing their records must not fail later calls.
      this.log.error({ err, records: batch.length }, 'could not write invocation records');
      return;
    }
    // The count cap holds between the (TTL-paced) purges too: every tenth of it written, trim to it.
    this.writtenSincePurge += batch.length;
    if (this.writtenSincePurge >= Math.max(1, Math.floor(this.settings.maxRecords / 10))) this.purgeByCount();
  }

  /** Calls `listener` with each record of `module` as its call ends; returns the unsubscribe function. */
  follow(module: string, listener: Listener): () => void {
    let listeners = this.followers.get(module);
    if (listeners === undefined) {
      listeners = new Set();
      this.followers.set(module, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.followers.get(module) === listeners) this.followers.delete(module);
    };
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
    this.writtenSincePurge = 0;
    const removed = this.repository.purge(Date.now() - this.settings.ttlMs, this.settings.maxRecords);
    if (removed > 0) this.log.info({ removed }, 'purged invocation records past HEARTH_INVOCATION_TTL / HEARTH_INVOCATION_MAX_RECORDS');
    return removed;
  }

  close(): void {
    clearInterval(this.purgeTimer);
    this.flush();
  }

  private purgeByCount(): void {
    this.writtenSincePurge = 0;
    try {
      this.repository.purge(0, this.settings.maxRecords);
    } catch (err) {
      this.log.error({ err }, 'could not purge invocation records');
    }
  }
}
