import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

/**
 * hearth's configuration: one typed, frozen object built once from `HEARTH_*`
 * environment variables and defaults. This is the only module that reads the
 * environment; every other part receives the slice it needs.
 */
export interface Config {
  /** HEARTH_HOST: address the HTTP API listens on. Default 127.0.0.1 (loopback only). */
  readonly host: string;
  /** HEARTH_PORT: TCP port of the HTTP API. Default 8080; 0 picks a free port. */
  readonly port: number;
  /** HEARTH_DATA_DIR: SQLite database, admin token, instance sockets. Default ./data. */
  readonly dataDir: string;
  /** HEARTH_LOG_LEVEL: pino level (fatal|error|warn|info|debug|trace|silent). Default info. */
  readonly logLevel: string;
  /** HEARTH_LOG_FORMAT: json | pretty | auto. Default auto: pretty when stdout is a terminal, JSON lines otherwise. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  readonly auth: {
    /** HEARTH_ADMIN_TOKEN: bearer token for admin/deploy routes. Unset: generated into dataDir/admin-token. */
    readonly adminToken: string | undefined;
    /** HEARTH_INVOKE_TOKEN: when set, function calls need this bearer token too. Default unset (open). */
    readonly invokeToken: string | undefined;
  };
  readonly limits: {
    /** HEARTH_MAX_BODY_BYTES: largest invocation request body. Default 6 MiB (as AWS Lambda). */
    readonly maxBodyBytes: number;
    /** HEARTH_MAX_UPLOAD_BYTES: largest deploy upload. Default 50 MiB. */
    readonly maxUploadBytes: number;
    /** HEARTH_MAX_OBJECT_BYTES: largest object uploaded to a bucket. Default 1 GiB. */
    readonly maxObjectBytes: number;
  };
  /**
   * HEARTH_DRIVER: docker | process | auto. Default auto: Docker when an engine
   * answers at start, otherwise the process driver (with a warning).
   */
  readonly driver: DriverChoice;
  readonly docker: {
    /** HEARTH_DOCKER_SOCKET: the engine's API socket. Default /var/run/docker.sock. */
    readonly socketPath: string;
    /**
     * HEARTH_EXEC_HELPER: the supervisor of image functions' containers. auto (default): built
     * from runtimes/exec with the C compiler, under the data dir; off: every call is a docker
     * exec; or the path of a prebuilt static hearth-exec.
     */
    readonly execHelper: string;
  };
  readonly process: {
    /** HEARTH_PYTHON: interpreter of the process driver. Default: python3 on PATH, else /usr/bin/python3 (the first the function user can run). */
    readonly python: string | undefined;
    /** HEARTH_SANDBOX: auto | bwrap | none. Default auto: bubblewrap when it works here. */
    readonly sandbox: 'auto' | 'bwrap' | 'none';
    /** HEARTH_PROCESS_UID_BASE: as root, builds run as this uid and instances as the next ones. Default 200000. */
    readonly uidBase: number;
    /** PATH, where python3 and bwrap are looked up. */
    readonly searchPath: string;
  };
  readonly builder: {
    /** HEARTH_PYTHON_IMAGE: base image of function images. Default hearth/python:3.11 (built locally). */
    readonly pythonImage: string;
    /** HEARTH_BUILD_BASE_IMAGE: build the base image from Debian packages when missing. Default true. */
    readonly buildBaseImage: boolean;
  };
  readonly pool: {
    /** HEARTH_DEFAULT_TIMEOUT_MS: a call's time limit when the module sets none. Default 30000. */
    readonly defaultTimeoutMs: number;
    /** HEARTH_START_TIMEOUT_MS: how long an instance may take to answer its health check. Default 30000. */
    readonly startTimeoutMs: number;
    /** HEARTH_INSTANCE_USER: uid:gid functions run as inside containers. Default 1000:1000 (never root). */
    readonly instanceUser: string;
    /** HEARTH_MAX_INSTANCES: instances across all modules. Default 64. */
    readonly maxInstances: number;
    /** HEARTH_START_CONCURRENCY: instance starts the engine works on at once, across all modules. Default: the number of CPUs. */
    readonly startConcurrency: number;
  };
  readonly jobs: {
    /** HEARTH_JOB_CONCURRENCY: async jobs running at once, daemon-wide. Default 32. */
    readonly concurrency: number;
    /** HEARTH_JOB_MAX_ATTEMPTS: runs of a job interrupted by daemon crashes before it fails. Default 3. */
    readonly maxAttempts: number;
    /** HEARTH_JOB_TTL: finished jobs older than this are purged (e.g. 7d, 12h, 30s, 500ms). Default 7d. */
    readonly ttlMs: number;
    /** HEARTH_JOB_MAX_RESULT_BYTES: larger results fail the job (ResultTooLarge). Default 1 MiB. */
    readonly maxResultBytes: number;
    /** HEARTH_JOB_MAX_LOG_BYTES: kept logs per job; the rest is cut with a marker. Default 64 KiB. */
    readonly maxLogBytes: number;
    /** HEARTH_CALLBACK_ALLOW: comma-separated URL prefixes X-Callback-Url must start with. Default: any http(s) URL. */
    readonly callbackAllow: readonly string[];
  };
  readonly invocations: {
    /** HEARTH_INVOCATION_TTL: invocation records older than this are purged. Default 7d. */
    readonly ttlMs: number;
    /** HEARTH_INVOCATION_MAX_RECORDS: at most this many records are kept (the newest). Default 100000. */
    readonly maxRecords: number;
    /** HEARTH_INVOCATION_FLUSH_MS: longest a record waits in memory before its batch is written. Default 200. */
    readonly flushMs: number;
  };
  readonly workflows: {
    /** HEARTH_WORKFLOW_MAX_NODES: nodes one workflow may have. Default 100. */
    readonly maxNodes: number;
    /** HEARTH_WORKFLOW_MAX_STEPS: function calls one run may make, retries included. Default 1000. */
    readonly maxSteps: number;
    /** HEARTH_WORKFLOW_MAX_RUN_MS: wall time of one run (counted afresh when a restart resumes it). Default 900000 (15 min). */
    readonly maxRunMs: number;
    /** HEARTH_WORKFLOW_MAX_DATA_BYTES: largest JSON passed into or out of a step (and a run's input). Default 1 MiB. */
    readonly maxDataBytes: number;
    /** HEARTH_WORKFLOW_CONCURRENCY: async runs under way at once, daemon-wide (their steps share the pools). Default 16. */
    readonly concurrency: number;
  };
  /** HEARTH_SHUTDOWN_GRACE_MS: how long SIGTERM waits for in-flight calls. Default 10000. */
  readonly shutdownGraceMs: number;
}

export type DriverChoice = 'auto' | 'docker' | 'process';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
}

function text(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}: expected one of ${allowed.join('|')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "7d", "12h", "30s", "500ms"; a bare number is seconds. */
function duration(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  const value = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 's'] as number);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${name}: expected a duration such as 7d, 12h, 30s or 500ms, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Builds the configuration from an environment (tests pass a plain object). */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const logLevel = text(env, 'HEARTH_LOG_LEVEL', 'info');
  if (!LOG_LEVELS.has(logLevel)) {
    throw new ConfigError(`HEARTH_LOG_LEVEL: expected one of ${[...LOG_LEVELS].join('|')}, got ${JSON.stringify(logLevel)}`);
  }
  const instanceUser = text(env, 'HEARTH_INSTANCE_USER', '1000:1000');
  if (!/^[1-9][0-9]*(:[0-9]+)?$/.test(instanceUser)) {
    throw new ConfigError(`HEARTH_INSTANCE_USER: expected a non-root uid[:gid], got ${JSON.stringify(instanceUser)}`);
  }
  const config: Config = {
    host: text(env, 'HEARTH_HOST', '127.0.0.1'),
    port: int(env, 'HEARTH_PORT', 8080, 0, 65535),
    dataDir: resolve(cwd, text(env, 'HEARTH_DATA_DIR', './data')),
    logLevel,
    logFormat: oneOf(env, 'HEARTH_LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
    auth: {
      adminToken: optional(env, 'HEARTH_ADMIN_TOKEN'),
      invokeToken: optional(env, 'HEARTH_INVOKE_TOKEN'),
    },
    limits: {
      maxBodyBytes: int(env, 'HEARTH_MAX_BODY_BYTES', 6 * 1024 * 1024, 1024, 1024 ** 3),
      maxUploadBytes: int(env, 'HEARTH_MAX_UPLOAD_BYTES', 50 * 1024 * 1024, 1024, 4 * 1024 ** 3),
      maxObjectBytes: int(env, 'HEARTH_MAX_OBJECT_BYTES', 1024 ** 3, 1, 1024 ** 4),
    },
    driver: oneOf(env, 'HEARTH_DRIVER', ['auto', 'docker', 'process'] as const, 'auto'),
    docker: { socketPath: text(env, 'HEARTH_DOCKER_SOCKET', '/var/run/docker.sock'), execHelper: text(env, 'HEARTH_EXEC_HELPER', 'auto') },
    process: {
      python: optional(env, 'HEARTH_PYTHON'),
      sandbox: oneOf(env, 'HEARTH_SANDBOX', ['auto', 'bwrap', 'none'] as const, 'auto'),
      uidBase: int(env, 'HEARTH_PROCESS_UID_BASE', 200_000, 1000, 4_000_000_000),
      searchPath: text(env, 'PATH', '/usr/local/bin:/usr/bin:/bin'),
    },
    builder: {
      pythonImage: text(env, 'HEARTH_PYTHON_IMAGE', 'hearth/python:3.11'),
      buildBaseImage: bool(env, 'HEARTH_BUILD_BASE_IMAGE', true),
    },
    pool: {
      defaultTimeoutMs: int(env, 'HEARTH_DEFAULT_TIMEOUT_MS', 30_000, 1, 3_600_000),
      startTimeoutMs: int(env, 'HEARTH_START_TIMEOUT_MS', 30_000, 100, 600_000),
      instanceUser,
      maxInstances: int(env, 'HEARTH_MAX_INSTANCES', 64, 1, 10_000),
      startConcurrency: int(env, 'HEARTH_START_CONCURRENCY', availableParallelism(), 1, 1024),
    },
    jobs: {
      concurrency: int(env, 'HEARTH_JOB_CONCURRENCY', 32, 1, 10_000),
      maxAttempts: int(env, 'HEARTH_JOB_MAX_ATTEMPTS', 3, 1, 100),
      ttlMs: duration(env, 'HEARTH_JOB_TTL', 7 * 24 * 3600 * 1000),
      maxResultBytes: int(env, 'HEARTH_JOB_MAX_RESULT_BYTES', 1024 * 1024, 1024, 1024 ** 3),
      maxLogBytes: int(env, 'HEARTH_JOB_MAX_LOG_BYTES', 64 * 1024, 1024, 1024 ** 3),
      callbackAllow: (optional(env, 'HEARTH_CALLBACK_ALLOW') ?? '').split(',').map((p) => p.trim()).filter(Boolean),
    },
    invocations: {
      ttlMs: duration(env, 'HEARTH_INVOCATION_TTL', 7 * 24 * 3600 * 1000),
      maxRecords: int(env, 'HEARTH_INVOCATION_MAX_RECORDS', 100_000, 1, 100_000_000),
      flushMs: int(env, 'HEARTH_INVOCATION_FLUSH_MS', 200, 1, 60_000),
    },
    workflows: {
      maxNodes: int(env, 'HEARTH_WORKFLOW_MAX_NODES', 100, 1, 10_000),
      maxSteps: int(env, 'HEARTH_WORKFLOW_MAX_STEPS', 1000, 1, 1_000_000),
      maxRunMs: int(env, 'HEARTH_WORKFLOW_MAX_RUN_MS', 900_000, 100, 7 * 24 * 3600 * 1000),
      maxDataBytes: int(env, 'HEARTH_WORKFLOW_MAX_DATA_BYTES', 1024 * 1024, 64, 1024 ** 3),
      concurrency: int(env, 'HEARTH_WORKFLOW_CONCURRENCY', 16, 1, 10_000),
    },
    shutdownGraceMs: int(env, 'HEARTH_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
