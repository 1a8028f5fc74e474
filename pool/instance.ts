import { setTimeout as delay } from 'node:timers/promises';
import { Pool as HttpPool } from 'undici';
import type { ExitInfo, InstanceHandle } from './driver.js';
import { RuntimeReply } from './runtime-reply.js';
import {
  FunctionNotFoundError,
  InstanceCrashedError,
  InstanceStartError,
  InvocationTimeoutError,
  ProtocolError,
} from './errors.js';

// How long a broken connection waits for the engine to report the exit that caused it.
const EXIT_REPORT_GRACE_MS = 2000;
const HEALTH_POLL_MS = 5;

/**
 * The connection to one running copy of a module: its driver handle plus a
 * keep-alive HTTP client on its Unix socket, created once per instance and
 * reused by every call. Its life cycle is kept by the pool (instance-state.ts).
 */
export class Instance {
  exit: ExitInfo | undefined;
  private readonly http: HttpPool;
  private readonly calls = new Set<AbortController>();

  constructor(
    readonly handle: InstanceHandle,
    connections: number,
  ) {
    this.http = new HttpPool('http://hearth.instance', {
      socketPath: handle.socketPath,
      connections,
      keepAliveTimeout: 60_000,
      // Our own timer bounds a call (timeoutMs); undici's defaults would cut long calls at 300 s.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    void handle.exited.then((exit) => this.onExit(exit));
  }

  get id(): string {
    return this.handle.id;
  }

  /** Polls GET /healthz until the module is imported, the instance exits, or the deadline passes. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.exit !== undefined) throw startFailure(this.exit);
      try {
        const res = await this.http.request({ path: '/healthz', method: 'GET', headersTimeout: 1000 });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // The socket does not exist or refuses yet: the runtime is still importing.
      }
      if (performance.now() > deadline) {
        throw new InstanceStartError(`the instance did not answer its health check within ${timeoutMs} ms`, { logs: '' });
      }
      await Promise.race([delay(HEALTH_POLL_MS), this.handle.exited]);
    }
  }

  /** POST /invoke/<fn>; aborts with `timeout` after timeoutMs and with a crash error if the instance dies. */
  async call(fn: string, body: string, timeoutMs: number): Promise<RuntimeReply> {
    const controller = new AbortController();
    this.calls.add(controller);
    const timer = setTimeout(() => controller.abort(new InvocationTimeoutError(timeoutMs)), timeoutMs);
    try {
      const res = await this.http.request({
        path: `/invoke/${fn}`,
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        signal: controller.signal,
      });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode === 404) throw new FunctionNotFoundError(`function ${fn} not found in the module`);
      if (res.statusCode !== 200) throw new ProtocolError(`the runtime answered ${res.statusCode}: ${bytes.toString('utf8', 0, 200)}`);
      return new RuntimeReply(bytes, RuntimeReply.range(res.headers['x-hearth-result'], bytes.length), res.headers['x-hearth-duration-ms']);
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason as Error;
      if (err instanceof FunctionNotFoundError || err instanceof ProtocolError) throw err;
      const exit = await Promise.race([this.handle.exited, delay(EXIT_REPORT_GRACE_MS).then(() => undefined)]);
      if (exit !== undefined) throw InstanceCrashedError.fromExit(exit);
      throw new InstanceCrashedError(`lost the connection to the instance: ${(err as Error).message}`, {
        exitCode: null,
        oomKilled: false,
        logs: '',
      });
    } finally {
      clearTimeout(timer);
      this.calls.delete(controller);
    }
  }

  async close(): Promise<void> {
    await this.http.destroy();
  }

  private onExit(exit: ExitInfo): void {
    this.exit = exit;
    // Calls still waiting on a dead instance would otherwise hang until their timeout.
    for (const controller of this.calls) controller.abort(InstanceCrashedError.fromExit(exit));
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
  const how = exit.oomKilled ? 'was killed for exceeding its memory limit' : `exited with code ${exit.exitCode ?? 'unknown'}`;
  const last = exit.logs.trim().split('\n').slice(-3).join(' | ');
  return new InstanceStartError(`the instance ${how} before it was ready${last ? `: ${last}` : ''}`, { logs: exit.logs });
}
