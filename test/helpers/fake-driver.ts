import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver, DriverInfo, DriverInstance, ExitInfo, InstanceHandle, InstanceSpec } from '../../pool/index.js';

/** How a fake instance behaves. */
export interface FakeBehaviour {
  /** Rejects driver.start, or makes the instance exit before it is healthy. */
  failStart?: 'driver' | 'exit';
  /** ms each call takes. */
  callMs?: number;
  /** ms driver.start takes (real time), so overlapping starts can be seen. */
  startMs?: number;
}

interface FakeInstance {
  readonly handle: InstanceHandle;
  readonly server: Server;
  exit(info: ExitInfo): void;
  paused: boolean;
}

/**
 * A driver for pool unit tests: each instance is an in-process HTTP server on a
 * real Unix socket speaking the container protocol, so the pool's client code
 * runs unchanged. It records every operation it is asked for.
 */
export class FakeDriver implements Driver {
  readonly name = 'fake';
  readonly ops: string[] = [];
  readonly instances = new Map<string, FakeInstance>();
  behaviour: FakeBehaviour = {};
  /** The most driver.start calls that were under way at once. */
  maxConcurrentStarts = 0;
  private startsUnderWay = 0;
  private dir: string | undefined;
  private next = 0;

  filesPath(filesDir: string): string {
    return filesDir;
  }

  describe(): DriverInfo {
    return { name: 'fake', runtime: 'in-process', sandbox: 'none', enforced: [], notEnforced: [] };
  }

  async listInstances(): Promise<DriverInstance[]> {
    return [...this.instances.entries()].map(([id, i]) => ({ id, module: 'fake', state: i.paused ? 'paused' : 'running' }));
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    this.ops.push(`start ${spec.version}`);
    this.startsUnderWay += 1;
    this.maxConcurrentStarts = Math.max(this.maxConcurrentStarts, this.startsUnderWay);
    try {
      if (this.behaviour.startMs !== undefined) await new Promise((resolve) => setTimeout(resolve, this.behaviour.startMs));
      return await this.create(spec);
    } finally {
      this.startsUnderWay -= 1;
    }
  }

  private async create(spec: InstanceSpec): Promise<InstanceHandle> {
    if (this.behaviour.failStart === 'driver') throw new Error('no such image');
    this.dir ??= await mkdtemp(join(tmpdir(), 'hearth-fake-'));
    const id = `fake-${(this.next += 1)}`;
    const socketPath = join(this.dir, `${id}.sock`);
    let exit!: (info: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((resolve) => (exit = resolve));
    const handle: InstanceHandle = { id, socketPath, exited };
    const callMs = this.behaviour.callMs ?? 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const reply = (body: string): void => {
          // As the runtime: a Content-Length reply (DESIGN.md section 3), never chunked.
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
        };
        if (req.url === '/healthz') return reply('{"ok":true}');
        setTimeout(() => reply(JSON.stringify({ ok: true, result: { instance: id, version: spec.version }, logs: '', durationMs: callMs })), callMs);
      });
    });
    const instance: FakeInstance = { handle, server, paused: false, exit: (info) => exit(info) };
    this.instances.set(id, instance);
    if (this.behaviour.failStart === 'exit') {
      instance.exit({ exitCode: 1, oomKilled: false, logs: 'HEARTH_ERROR {"message":"ImportError: boom","file":"m.py","line":1}\n' });
    } else {
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    }
    return handle;
  }

  async stop(handle: InstanceHandle): Promise<void> {
    this.ops.push(`stop ${handle.id}`);
    this.end(handle.id, 0);
  }

  async kill(handle: InstanceHandle): Promise<void> {
    this.ops.push(`kill ${handle.id}`);
    this.end(handle.id, 137);
  }

  async pause(handle: InstanceHandle): Promise<void> {
    this.ops.push(`pause ${handle.id}`);
    const instance = this.instances.get(handle.id);
    if (instance !== undefined) instance.paused = true;
  }

  async unpause(handle: InstanceHandle): Promise<void> {
    this.ops.push(`unpause ${handle.id}`);
    const instance = this.instances.get(handle.id);
    if (instance !== undefined) instance.paused = false;
  }

  async removeOrphans(): Promise<number> {
    return 0;
  }

  /** The instance dies by itself (a crash). */
  crash(id: string, exitCode = 1): void {
    this.end(id, exitCode);
  }

  running(): string[] {
    return [...this.instances.keys()];
  }

  count(op: string): number {
    return this.ops.filter((o) => o.startsWith(op)).length;
  }

  async cleanup(): Promise<void> {
    for (const id of [...this.instances.keys()]) this.end(id, 0);
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }

  private end(id: string, exitCode: number): void {
    const instance = this.instances.get(id);
    if (instance === undefined) return;
    this.instances.delete(id);
    instance.server.closeAllConnections();
    instance.server.close();
    instance.exit({ exitCode, oomKilled: false, logs: '' });
  }
}
