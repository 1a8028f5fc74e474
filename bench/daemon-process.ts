import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The daemon in its own process (as users run it), so the load generator does not share its event loop. */
export interface DaemonProcess {
  readonly url: string;
  readonly token: string;
  readonly dataDir: string;
  /** SIGKILL, keeping the data dir (a crash). */
  kill(): Promise<void>;
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startDaemonProcess(env: Record<string, string> = {}, keepDataDir?: string): Promise<DaemonProcess> {
  const dataDir = keepDataDir ?? (await mkdtemp(join(tmpdir(), 'hearth-bench-')));
  const port = await freePort();
  const token = 'bench-token';
  const main = join(dirname(dirname(fileURLToPath(import.meta.url))), 'gateway', 'main.js');
  const child: ChildProcess = spawn(process.execPath, [main], {
    env: { ...process.env, HEARTH_PORT: String(port), HEARTH_DATA_DIR: dataDir, HEARTH_ADMIN_TOKEN: token, HEARTH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the daemon did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    token,
    dataDir,
    async kill() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async admin(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
