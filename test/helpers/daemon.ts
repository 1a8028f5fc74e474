import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadConfig } from '../../gateway/config.js';
import { createDaemon, type Daemon } from '../../gateway/daemon.js';
import { createLogger } from '../../gateway/logger.js';
import type { DriverInstance } from '../../pool/index.js';
import type { DriverName } from './drivers.js';

export { eventually } from './eventually.js';

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestDaemon {
  readonly daemon: Daemon;
  readonly url: string;
  readonly dataDir: string;
  /** fetch against the daemon; `admin: true` adds the admin token. */
  request(path: string, init?: RequestInit & { admin?: boolean }): Promise<Response>;
  /** Deploys Python source with the JSON form of PUT /system/modules/:module. */
  deploy(module: string, source: string, config?: object): Promise<Response>;
  /** POST /function/:module/:fn with a JSON body. */
  call(module: string, fn: string, event?: unknown): Promise<Response>;
  /** Closes the daemon (idempotent); the data dir stays until the test ends. */
  close(): Promise<void>;
  /** The daemon's instances (all states), optionally of one module, straight from the driver (the engine, for Docker). */
  instances(module?: string): Promise<DriverInstance[]>;
}

export async function makeDataDir(t: Test): Promise<string> {
  // Short paths: instance sockets live under it and sun_path is 108 bytes.
  const dir = await mkdtemp(join(tmpdir(), 'hearth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A real daemon (real Docker or local processes, real SQLite file) on a free loopback port. */
export async function startDaemon(
  t: Test,
  options: { dataDir?: string; env?: Record<string, string>; driver?: DriverName } = {},
): Promise<TestDaemon> {
  const dataDir = options.dataDir ?? (await makeDataDir(t));
  const config = loadConfig({
    HEARTH_DATA_DIR: dataDir,
    HEARTH_PORT: '0',
    HEARTH_ADMIN_TOKEN: ADMIN_TOKEN,
    HEARTH_LOG_LEVEL: process.env.HEARTH_TEST_LOG_LEVEL ?? 'silent',
    HEARTH_SHUTDOWN_GRACE_MS: '3000',
    HEARTH_DRIVER: options.driver ?? 'docker',
    ...options.env,
  });
  const daemon = await createDaemon(config, createLogger(config.logLevel));
  const url = await daemon.app.listen({ host: '127.0.0.1', port: 0 });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= daemon.close());
  t.teardown(close);
  const request = (path: string, init: RequestInit & { admin?: boolean } = {}): Promise<Response> => {
    const { admin, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (admin === true) headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  return {
    daemon,
    url,
    dataDir,
    request,
    close,
    deploy: (module, source, config) =>
      request(`/system/modules/${module}`, {
        method: 'PUT',
        admin: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(config === undefined ? { source } : { source, config }),
      }),
    call: (module, fn, event) =>
      request(`/function/${module}/${fn}`, {
        method: 'POST',
        ...(event === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }),
      }),
    instances: (module) => daemon.driver.listInstances(module),
  };
}
