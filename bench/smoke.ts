import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { loadConfig } from '../gateway/config.js';
import { createDaemon } from '../gateway/daemon.js';
import { createLogger } from '../gateway/logger.js';
import { Instance, SocketTransport } from '../pool/index.js';
import { writeResult } from './results.js';
import { percentiles, round } from './stats.js';

/**
 * Smoke benchmark: the cold start of a first call and the latency of warm
 * calls through the gateway, each next to its baseline measured in the same
 * run on the same image: a raw create + start + health check through the
 * Docker API, and calls straight to a container's Unix socket.
 */
const WARM_CALLS = 1000;
const COLD_ROUNDS = 5;

export async function runSmoke(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hearth-bench-'));
  const config = loadConfig({ HEARTH_DATA_DIR: dataDir, HEARTH_PORT: '0', HEARTH_ADMIN_TOKEN: 'bench', HEARTH_LOG_LEVEL: 'warn' });
  const daemon = await createDaemon(config, createLogger(config.logLevel));
  const url = await daemon.app.listen({ host: '127.0.0.1', port: 0 });
  const http = new Pool(url, { connections: 1 });
  try {
    const upload = { kind: 'source', source: 'def noop(event, context):\n    return {"ok": True}\n' } as const;
    const deploy = await daemon.registry.deploy('bench_noop', { upload });
    const body = '{"n":1}';
    const call = async (): Promise<number> => {
      const started = performance.now();
      const res = await http.request({ path: '/function/bench_noop/noop', method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`gateway answered ${res.statusCode}`);
      return performance.now() - started;
    };

    // Cold: first call with no instance, vs raw create + start + healthz of the same image.
    const cold: number[] = [];
    const raw: number[] = [];
    const spec = { module: 'bench_noop', version: deploy.record.version, image: deploy.record.image, memoryMb: 256, cpus: 1, pids: 128, network: false, env: {} };
    for (let round = 0; round < COLD_ROUNDS; round += 1) {
      // Drop the pool (and its instance); the unchanged redeploy re-creates it empty, building nothing.
      await daemon.pools.remove('bench_noop', 1000);
      await daemon.registry.deploy('bench_noop', { upload });
      cold.push(await call());
      const started = performance.now();
      const handle = await daemon.driver.start(spec);
      const instance = new Instance(handle, new SocketTransport(handle.socketPath, 1));
      await instance.waitHealthy(30_000);
      raw.push(performance.now() - started);
      await daemon.driver.stop(handle, 1000);
      await instance.close();
    }

    // Warm: sequential calls through the gateway vs straight to a container's socket.
    for (let i = 0; i < 100; i += 1) await call();
    const gateway: number[] = [];
    for (let i = 0; i < WARM_CALLS; i += 1) gateway.push(await call());
    const handle = await daemon.driver.start(spec);
    const direct = new Instance(handle, new SocketTransport(handle.socketPath, 1));
    await direct.waitHealthy(30_000);
    const payload = JSON.stringify({ event: { n: 1 }, context: {} });
    for (let i = 0; i < 100; i += 1) await direct.call('noop', payload, 5000);
    const straight: number[] = [];
    for (let i = 0; i < WARM_CALLS; i += 1) {
      const started = performance.now();
      await direct.call('noop', payload, 5000);
      straight.push(performance.now() - started);
    }
    await daemon.driver.stop(handle, 1000);
    await direct.close();

    const coldStats = percentiles(cold);
    const rawStats = percentiles(raw);
    const gw = percentiles(gateway);
    const dc = percentiles(straight);
    const result = {
      benchmark: 'smoke',
      date: new Date().toISOString(),
      coldStartMs: coldStats,
      rawDockerStartMs: rawStats,
      coldVsRaw: round(coldStats.p50 / rawStats.p50, 2),
      warmGatewayMs: gw,
      warmDirectMs: dc,
      addedByGatewayP50Ms: round(gw.p50 - dc.p50),
      addedByGatewayP99Ms: round(gw.p99 - dc.p99),
    };
    process.stdout.write(
      [
        `smoke (${COLD_ROUNDS} cold rounds, ${WARM_CALLS} warm calls, 1 connection)`,
        `  cold start, first call via gateway   p50 ${coldStats.p50} ms  (raw create+start+healthz p50 ${rawStats.p50} ms)  ratio ${result.coldVsRaw}x`,
        `  warm call via gateway                p50 ${gw.p50} ms  p99 ${gw.p99} ms`,
        `  warm call direct to the socket       p50 ${dc.p50} ms  p99 ${dc.p99} ms`,
        `  added by the gateway                 p50 ${result.addedByGatewayP50Ms} ms  p99 ${result.addedByGatewayP99Ms} ms`,
        '',
      ].join('\n'),
    );
    await writeResult('smoke', result);
  } finally {
    await http.close();
    await daemon.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
