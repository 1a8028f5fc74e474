import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { ADMIN_TOKEN } from './daemon.js';
import { eventually } from './eventually.js';

const MAIN = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'gateway', 'main.ts');

/** The daemon as users run it, in a child process: for tests that SIGKILL it. */
export interface DaemonChild {
  readonly url: string;
  /** PUT /system/modules/:module with JSON source and config. */
  deploy(module: string, source: string, config: object): Promise<Response>;
  /** What the daemon wrote to stdout so far (its log). */
  output(): string;
  /** SIGKILL, and wait for the exit: a crash, the data dir left as it was. */
  kill(): Promise<void>;
}

export async function spawnDaemon(t: Test, env: Record<string, string>, listenWithinMs: number): Promise<DaemonChild> {
  // process.execArgv carries tap's TypeScript loader, so main.ts runs as it is.
  const child = spawn(process.execPath, [...process.execArgv, MAIN], {
    env: { ...process.env, HEARTH_PORT: '0', HEARTH_ADMIN_TOKEN: ADMIN_TOKEN, HEARTH_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // A JSON line ("address":"http://…") or a pretty one (address: "http://…").
  const ADDRESS = /"?address"?:\s*"(http:\/\/[^"]+)"/;
  await eventually(async () => ADDRESS.test(out), listenWithinMs, 'the daemon to listen');
  const url = ADDRESS.exec(out)?.[1] as string;
  return {
    url,
    output: () => out,
    deploy: (module, source, config) =>
      fetch(`${url}/system/modules/${module}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ source, config }),
      }),
    async kill() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
