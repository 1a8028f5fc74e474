import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Builder } from '../builder/index.js';
import { createSystemClock, type Driver, PoolManager } from '../pool/index.js';
import { loadPythonRuntime } from '../runtimes/index.js';
import { openStore } from '../store/index.js';
import { resolveAdminToken } from './admin-token.js';
import { buildApp } from './app.js';
import { CallbackSender } from './callbacks.js';
import { selectEngine } from './driver-select.js';
import { JobRunner } from './job-runner.js';
import { WorkflowRunner } from './workflow-runner.js';
import { Invoker } from './invoker.js';
import { InvocationRecorder } from './invocation-recorder.js';
import { LatencyWindow } from './latency-window.js';
import { Metrics } from './metrics.js';
import { BucketStore, CronScheduler, type CronTrigger, type Fire } from '../triggers/index.js';
import { cronFirer } from './cron-jobs.js';
import { FileJobs } from './file-jobs.js';
import type { Config } from './config.js';
import { ModuleRegistry } from './module-registry.js';

export const HEARTH_VERSION = '0.1.0';

// Per-module p50/p95/p99 in GET /system/modules/:module cover this long.
const LATENCY_WINDOW_MS = 5 * 60_000;
const LATENCY_MAX_SAMPLES = 20_000;

export interface Daemon {
  readonly app: FastifyInstance;
  readonly registry: ModuleRegistry;
  readonly pools: PoolManager;
  readonly driver: Driver;
  readonly daemonId: string;
  readonly adminToken: string;
  readonly adminTokenFile: string | undefined;
  /** Stops taking requests, waits for in-flight ones (up to the grace), removes every instance. */
  close(): Promise<void>;
}

/**
 * The composition root: builds every part from the config and hands each its
 * dependencies. Fails fast (EngineUnavailableError) when no engine answers.
 */
export async function createDaemon(config: Config, log: Logger): Promise<Daemon> {
  await mkdir(config.dataDir, { recursive: true });
  const daemonId = await loadDaemonId(config.dataDir);
  const runtime = await loadPythonRuntime();
  const { driver, backend } = await selectEngine(config, daemonId, runtime, log);

  const store = openStore(join(config.dataDir, 'hearth.db'));
  const pools = new PoolManager({
    driver,
    clock: createSystemClock(),
    log: log.child({ part: 'pool' }),
    maxInstances: config.pool.maxInstances,
    startConcurrency: config.pool.startConcurrency,
    startTurnLimitMs: config.pool.startTimeoutMs,
  });
  const builder = new Builder({ backend, runtime, log: log.child({ part: 'builder' }) });
  // Before the registry: a start-up rebuild is a build too.
  const metrics = new Metrics({ pools, jobs: store.jobs });
  // Before the registry too, which hands it each module's triggers as the module goes live.
  // Its ticks become jobs once the job runner exists (a tick during a start-up rebuild is dropped, as a missed tick is).
  let fireCron: Fire = () => undefined;
  const cron = new CronScheduler((module, trigger, at) => fireCron(module, trigger, at));
  const registry = new ModuleRegistry({
    store,
    builder,
    pools,
    log: log.child({ part: 'registry' }),
    defaults: { timeoutMs: config.pool.defaultTimeoutMs, startTimeoutMs: config.pool.startTimeoutMs },
    stopGraceMs: Math.min(config.shutdownGraceMs, 5000),
    onBuild: (module, seconds, ok) => metrics.buildEnded(module, seconds, ok),
    onActivate: (record) => cron.set(record.name, record.config.triggers.filter((t): t is CronTrigger => t.type === 'cron')),
    filesRoot: join(config.dataDir, 'files'),
    onRemove: (module) => cron.remove(module),
  });
  try {
    await registry.load();
  } catch (err) {
    cron.close();
    store.close();
    throw err;
  }
  const recorder = new InvocationRecorder(store.invocations, { ...config.invocations, maxBatch: 1000 }, log.child({ part: 'invocations' }));
  recorder.start();
  const latency = new LatencyWindow(LATENCY_WINDOW_MS, LATENCY_MAX_SAMPLES);
  const buckets = new BucketStore(join(config.dataDir, 'buckets'), store.objects);
  const swept = await buckets.sweep();
  if (swept > 0) log.info({ swept }, 'removed object files a crash left half-written or unreferenced');
  const invoker = new Invoker({ pools, metrics, recorder, latency, maxLogBytes: config.jobs.maxLogBytes });
  const callbacks = new CallbackSender(store.jobs, { allow: config.jobs.callbackAllow }, log.child({ part: 'callbacks' }));
  const runner = new JobRunner({
    jobs: store.jobs,
    invoker,
    registry,
    callbacks,
    limits: config.jobs,
    log: log.child({ part: 'jobs' }),
    fileJobs: { run: (job) => fileJobs.run(job) },
  });
  fireCron = cronFirer(registry, runner, log.child({ part: 'cron' }));
  const fileJobs = new FileJobs({ registry, buckets, jobs: store.jobs, invoker, filesPath: (dir) => driver.filesPath(dir), maxObjectBytes: config.limits.maxObjectBytes });
  const recovered = runner.start();
  if (recovered.requeued + recovered.failed + recovered.queued > 0) log.info(recovered, 'async jobs recovered from the last run');
  const workflowRunner = new WorkflowRunner({
    runs: store.runs,
    invoker,
    registry,
    limits: { ...config.workflows, maxAttempts: config.jobs.maxAttempts, ttlMs: config.jobs.ttlMs, maxLogBytes: config.jobs.maxLogBytes },
    log: log.child({ part: 'workflows' }),
  });
  const runs = workflowRunner.start();
  if (runs.resumed + runs.interrupted + runs.queued > 0) log.info(runs, 'workflow runs recovered from the last run');
  const admin = await resolveAdminToken(config.auth.adminToken, config.dataDir);
  const app = buildApp({
    config,
    registry,
    pools,
    jobs: store.jobs,
    runner,
    callbacks,
    workflows: store.workflows,
    runs: store.runs,
    workflowRunner,
    invoker,
    metrics,
    recorder,
    latency,
    buckets,
    fileJobs,
    adminToken: admin.token,
    log,
    version: HEARTH_VERSION,
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // New calls are refused at once (503); in-flight ones finish within the grace, then every instance goes.
      const started = performance.now();
      cron.close();
      const serverClosed = app.close();
      // Jobs not yet started stay queued in SQLite for the next start; running ones finish within the grace.
      const jobsDone = runner.close();
      // Workflow runs start no further step; async ones resume from their finished steps at the next start.
      const runsDone = workflowRunner.close();
      try {
        await pools.close(config.shutdownGraceMs);
        await jobsDone;
        await runsDone;
      } finally {
        // The last calls' records are written whatever happened above.
        recorder.close();
      }
      callbacks.close();
      // server.close() only closed the connections idle when it began; those that
      // served the last calls are idle now, and would otherwise linger for keep-alive.
      app.server.closeIdleConnections();
      const left = Math.max(0, config.shutdownGraceMs - (performance.now() - started));
      await Promise.race([serverClosed, new Promise((resolve) => setTimeout(resolve, left).unref())]);
      app.server.closeAllConnections();
      store.close();
    })();
    return closing;
  };
  return { app, registry, pools, driver, daemonId, adminToken: admin.token, adminTokenFile: admin.file, close };
}

/** A stable id per data dir: containers are labelled with it, so a restart finds what a crash left. */
async function loadDaemonId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'daemon-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[a-f0-9]{16}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(8).toString('hex');
  await writeFile(file, `${id}\n`);
  return id;
}
