import { setTimeout as delay } from 'node:timers/promises';
import type { ExitInfo, InstanceHandle } from './driver.js';
import type { RuntimeReply } from './runtime-reply.js';
import type { InstanceTransport } from './transport.js';
import {
  describeExit,
  FunctionNotFoundError,
  InvalidEventError,
  InstanceCrashedError,
  InstanceStartError,
  InvocationTimeoutError,
  ProtocolError,
} from './errors.js';

// How long a broken connection waits for the engine to report the exit that caused it.
const EXIT_REPORT_GRACE_MS = 2000;
const HEALTH_POLL_MS = 5;

/**
 * One running copy of a module: its driver handle plus the transport its
 * calls take (transport.ts), created once per instance and reused by every
 * call. It bounds each call in time and fails calls in flight when the
 * instance dies. Its life cycle is kept by the pool (instance-state.ts).
 */
export class Instance {
  exit: ExitInfo | undefined;
  /** How to fail each call in flight (crash). */
  private readonly calls = new Set<(err: Error) => void>();

  constructor(
    readonly handle: InstanceHandle,
    private readonly transport: InstanceTransport,
  ) {
    void handle.exited.then((exit) => this.onExit(exit));
  }

  get id(): string {
    return this.handle.id;
  }

  /** Polls the transport until the instance is ready (the module imported), it exits, or the deadline passes. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.exit !== undefined) throw startFailure(this.exit);
      if (await this.transport.ready()) return;
      if (performance.now() > deadline) {
        throw new InstanceStartError(`the instance did not answer its health check within ${timeoutMs} ms`, { logs: '' });
      }
      await Promise.race([delay(HEALTH_POLL_MS), this.handle.exited]);
    }
  }

  /**
   * Runs `fn` through the transport. Fails with InvocationTimeoutError after timeoutMs and with
   * InstanceCrashedError if the instance dies. The call races a per-call failure
   * promise rather than being aborted by a signal: an AbortSignal per request
   * cost a quarter of the warm throughput (measured with undici). An abandoned
   * request ends when the pool kills its instance, which closes the socket under it.
   */
  async call(fn: string, body: string, timeoutMs: number): Promise<RuntimeReply> {
    let fail!: (err: Error) => void;
    const failed = new Promise<never>((_resolve, reject) => {
      fail = reject;
    });
    this.calls.add(fail);
    const timer = setTimeout(() => fail(new InvocationTimeoutError(timeoutMs)), timeoutMs);
    const request = this.transport.send(fn, body);
    // Once the call has failed, nobody waits for the request: its own error must not go unhandled.
    request.catch(() => undefined);
    try {
      return await Promise.race([request, failed]);
    } catch (err) {
      if (err instanceof InvocationTimeoutError || err instanceof InstanceCrashedError) throw err;
      // The instance answered: it is alive, and the call failed for a reason of its own.
      if (err instanceof FunctionNotFoundError || err instanceof ProtocolError || err instanceof InvalidEventError) throw err;
      const exit = await Promise.race([this.handle.exited, delay(EXIT_REPORT_GRACE_MS).then(() => undefined)]);
      if (exit !== undefined) throw InstanceCrashedError.fromExit(exit);
      throw new InstanceCrashedError(`lost the connection to the instance: ${(err as Error).message}`, {
        exitCode: null,
        oomKilled: false,
        logs: '',
      });
    } finally {
      clearTimeout(timer);
      this.calls.delete(fail);
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private onExit(exit: ExitInfo): void {
    this.exit = exit;
    // Calls still waiting on a dead instance would otherwise hang until their timeout.
    for (const fail of this.calls) fail(InstanceCrashedError.fromExit(exit));
  }
}

/** An instance that exited before it was healthy: name the import error when there is one. */
function startFailure(exit: ExitInfo): InstanceStartError {
  const marker = exit.logs.split('\n').find((line) => line.startsWith('HEARTH_ERROR '));
  if (marker !== undefined) {
    try {
      const err = JSON.parse(marker.slice('HEARTH_ERROR '.length)) as { message: string; file: string | null; line: number | null };
      const where = err.file ? ` (${err.file}${err.line ? `, line ${err.line}` : ''})` : '';
      return new InstanceStartError(`the module failed to import: ${err.message}${where}`, { logs: exit.logs });
    } catch {
      // fall through to the generic message
    }
  }
  const how = describeExit(exit);
  const last = exit.logs.trim().split('\n').slice(-3).join(' | ');
  return new InstanceStartError(`the instance ${how} before it was ready${last ? `: ${last}` : ''}`, { logs: exit.logs });
}
