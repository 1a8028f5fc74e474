import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { type BuildBackend, buildExecHelper, DockerBuild, ensureBaseImage, LocalBuild } from '../builder/index.js';
import { detectProcessHost, DockerDriver, type Driver, EngineUnavailableError, ProcessDriver } from '../pool/index.js';
import { findExecHelperSource, type PythonRuntime } from '../runtimes/index.js';
import type { Config } from './config.js';

/** The driver instances run on, and where builds for it go. */
export interface Engine {
  readonly driver: Driver;
  readonly backend: BuildBackend;
}

/**
 * HEARTH_DRIVER: Docker wherever an engine answers (auto, docker), the process
 * driver where none does (auto, with one warning) or when asked (process).
 */
export async function selectEngine(config: Config, daemonId: string, runtime: PythonRuntime, log: Logger): Promise<Engine> {
  const runDir = join(config.dataDir, 'run');
  if (config.driver !== 'process') {
    const execHelper = await execHelperFor(config, log);
    const docker = new DockerDriver({
      socketPath: config.docker.socketPath,
      daemonId,
      runDir,
      user: config.pool.instanceUser,
      log: log.child({ part: 'docker' }),
      ...(execHelper === undefined ? {} : { execHelper }),
    });
    try {
      const engine = await docker.ping();
      log.info({ engine, daemonId }, 'Docker engine answers');
      return await dockerEngine(docker, config, runtime, log);
    } catch (err) {
      if (config.driver === 'docker' || !(err instanceof EngineUnavailableError)) throw err;
      log.warn(
        'no Docker engine: using the process driver. Functions run as local python3 processes, NOT container-isolated ' +
          `(GET /system/info lists what is enforced). For containers: ${err.message}. HEARTH_DRIVER=process silences this.`,
      );
    }
  }
  return processEngine(config, runDir, runtime, log);
}

/** HEARTH_EXEC_HELPER: off, a prebuilt binary, or (auto) one compiled once under the data dir. */
async function execHelperFor(config: Config, log: Logger): Promise<string | undefined> {
  const choice = config.docker.execHelper;
  if (choice === 'off') return undefined;
  if (choice !== 'auto') return choice;
  try {
    return await buildExecHelper(findExecHelperSource(), join(config.dataDir, 'bin'), log.child({ part: 'builder' }));
  } catch (err) {
    // Image functions still work without it (docker exec): never a reason not to start.
    log.warn({ err }, 'cannot prepare the image-function supervisor (hearth-exec); image functions will use docker exec');
    return undefined;
  }
}

async function dockerEngine(driver: DockerDriver, config: Config, runtime: PythonRuntime, log: Logger): Promise<Engine> {
  const orphans = await driver.removeOrphans();
  if (orphans > 0) log.info({ orphans }, 'removed containers left by an earlier run');
  const projectRoot = dirname(dirname(dirname(runtime.path)));
  await ensureBaseImage(
    driver,
    {
      image: config.builder.pythonImage,
      build: config.builder.buildBaseImage,
      script: join(projectRoot, 'scripts', 'build-base-image.sh'),
    },
    log.child({ part: 'builder' }),
  );
  return { driver, backend: new DockerBuild(driver, runtime, config.builder.pythonImage) };
}

async function processEngine(config: Config, runDir: string, runtime: PythonRuntime, log: Logger): Promise<Engine> {
  const root = process.getuid?.() === 0;
  const uids = root ? { first: config.process.uidBase, count: config.pool.maxInstances } : undefined;
  const host = await detectProcessHost({
    python: config.process.python,
    sandbox: config.process.sandbox,
    path: config.process.searchPath,
    user: uids === undefined ? undefined : { uid: uids.first, gid: uids.first },
  });
  if (host.sandboxProblem !== undefined) {
    log.warn(`functions run without a sandbox: ${host.sandboxProblem}; apt-get install bubblewrap for namespaces`);
  }
  if (root) {
    // Function users must reach their code and sockets under the data dir: let them
    // traverse it (not list it); the database and token inside stay owner-only.
    await chmod(config.dataDir, 0o711);
  }
  const driver = new ProcessDriver({ host, runDir, uids, log: log.child({ part: 'process' }) });
  const orphans = await driver.removeOrphans();
  if (orphans > 0) log.info({ orphans }, 'killed processes left by an earlier run');
  await chmod(runDir, 0o711);
  log.info(driver.describe(), 'process driver');
  return { driver, backend: new LocalBuild(driver, runtime, join(config.dataDir, 'builds')) };
}
