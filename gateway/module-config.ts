import type { InstanceSpec, PoolSettings } from '../pool/index.js';
import { cronProblem, fileTriggerProblem, type CronTrigger, type FileTrigger } from '../triggers/index.js';

const TRIGGER_FIELDS = {
  cron: ['type', 'function', 'schedule', 'event', 'timezone'],
  file: ['type', 'function', 'bucket', 'prefix', 'suffix', 'output'],
} as const;
import { InvalidRequestError } from './errors.js';

/** What a deploy's `config` may set, with the defaults of DESIGN.md section 4. */
export interface ModuleConfig {
  /** Memory limit of one instance, MiB. Default 256. */
  readonly memoryMb: number;
  /** CPU share of one instance. Default 1. */
  readonly cpus: number;
  /** Process/thread limit of one instance. Default 128. */
  readonly pids: number;
  /** One call's time limit, ms. Default HEARTH_DEFAULT_TIMEOUT_MS (30000). */
  readonly timeoutMs: number;
  /** Environment variables of the function (names starting with HEARTH_ are reserved). */
  readonly env: Readonly<Record<string, string>>;
  /** Network access for the function. Default false (`--network none`). */
  readonly network: boolean;
  /**
   * Where the request's parameters go. `event` (default): event = the JSON body
   * or form fields, context = runtime information. `context`: the convention of
   * the original design, event = {"method": "http"} and context = the parameters.
   */
  readonly paramsIn: 'event' | 'context';
  /** Instances kept started at all times (prewarm). Default 0. */
  readonly minWarm: number;
  /** Upper bound of this module's instances. Default 4. */
  readonly maxInstances: number;
  /** Calls one instance serves at once. Default 1. */
  readonly concurrency: number;
  /** An instance idle this long is stopped while the pool is above minWarm. Default 300000. */
  readonly idleTimeoutMs: number;
  /** An instance idle this long is paused (frozen); 0 = never. Default 0. */
  readonly pauseAfterMs: number;
  /** Calls that may wait for an instance; beyond it, 429. Default 1000. */
  readonly maxQueue: number;
  /** How long a new instance may take to become healthy. Default HEARTH_START_TIMEOUT_MS. */
  readonly startTimeoutMs: number;
  /** What calls the module's functions besides HTTP: cron schedules, uploads into a bucket. Default none. */
  readonly triggers: readonly (CronTrigger | FileTrigger)[];
}

export const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';

/** The pool settings, as accepted by deploy `config` and by POST /system/modules/:module/scale. */
const poolProperties = {
  minWarm: { type: 'integer', minimum: 0, maximum: 64 },
  maxInstances: { type: 'integer', minimum: 1, maximum: 256 },
  concurrency: { type: 'integer', minimum: 1, maximum: 1000 },
  idleTimeoutMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
  pauseAfterMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
  timeoutMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
  maxQueue: { type: 'integer', minimum: 0, maximum: 100_000 },
  startTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000 },
} as const;

export const scaleSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: poolProperties,
} as const;

/** JSON schema of `config`; unknown fields are refused so a typo is not silently ignored. */
export const moduleConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...poolProperties,
    memoryMb: { type: 'integer', minimum: 32, maximum: 16384 },
    cpus: { type: 'number', minimum: 0.05, maximum: 64 },
    pids: { type: 'integer', minimum: 16, maximum: 4096 },
    env: {
      type: 'object',
      maxProperties: 100,
      propertyNames: { pattern: '^(?!HEARTH_)[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: { type: 'string', maxLength: 32768 },
    },
    network: { type: 'boolean' },
    paramsIn: { type: 'string', enum: ['event', 'context'] },
    triggers: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'function'],
        properties: {
          type: { type: 'string', enum: ['cron', 'file'] },
          function: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
          // cron
          schedule: { type: 'string', minLength: 9, maxLength: 120 },
          event: { type: 'object' },
          timezone: { type: 'string', maxLength: 64 },
          // file
          bucket: { type: 'string', maxLength: 63 },
          prefix: { type: 'string', maxLength: 1024 },
          suffix: { type: 'string', maxLength: 256 },
          output: { type: 'string', maxLength: 63 },
        },
      },
    },
  },
} as const;

export interface ConfigDefaults {
  readonly timeoutMs: number;
  readonly startTimeoutMs: number;
}

/** Fills in defaults, and checks what a schema cannot: minWarm <= maxInstances. */
export function resolveModuleConfig(given: Partial<ModuleConfig> | undefined, defaults: ConfigDefaults): ModuleConfig {
  const config: ModuleConfig = {
    memoryMb: given?.memoryMb ?? 256,
    cpus: given?.cpus ?? 1,
    pids: given?.pids ?? 128,
    timeoutMs: given?.timeoutMs ?? defaults.timeoutMs,
    env: { ...(given?.env ?? {}) },
    network: given?.network ?? false,
    paramsIn: given?.paramsIn ?? 'event',
    minWarm: given?.minWarm ?? 0,
    maxInstances: given?.maxInstances ?? 4,
    concurrency: given?.concurrency ?? 1,
    idleTimeoutMs: given?.idleTimeoutMs ?? 300_000,
    pauseAfterMs: given?.pauseAfterMs ?? 0,
    maxQueue: given?.maxQueue ?? 1000,
    startTimeoutMs: given?.startTimeoutMs ?? defaults.startTimeoutMs,
    triggers: [...(given?.triggers ?? [])],
  };
  if (config.minWarm > config.maxInstances) {
    throw new InvalidRequestError(`minWarm (${config.minWarm}) must be <= maxInstances (${config.maxInstances})`);
  }
  config.triggers.forEach((trigger, i) => {
    const fields = Object.keys(trigger).filter((key) => !(TRIGGER_FIELDS[trigger.type] as readonly string[]).includes(key));
    if (fields.length > 0) throw new InvalidRequestError(`config/triggers/${i} has fields a ${trigger.type} trigger does not take: ${fields.join(', ')}`);
    if (trigger.type === 'cron') {
      const problem = trigger.schedule === undefined ? 'it is missing' : cronProblem(trigger);
      if (problem !== undefined) throw new InvalidRequestError(`config/triggers/${i}/schedule ${JSON.stringify(trigger.schedule)} cannot be used: ${problem}`);
    } else {
      const problem = trigger.bucket === undefined || trigger.output === undefined ? 'bucket and output are required' : fileTriggerProblem(trigger);
      if (problem !== undefined) throw new InvalidRequestError(`config/triggers/${i}: ${problem}`);
    }
  });
  return config;
}

/**
 * `filesDir`: the module's shared folder for file-triggered calls, when it has file triggers.
 * `commands`: an image module's per-call commands.
 */
export function instanceSpec(
  module: string,
  version: string,
  image: string,
  config: ModuleConfig,
  filesDir?: string,
  commands?: Readonly<Record<string, readonly string[]>>,
): InstanceSpec {
  return {
    ...(filesDir !== undefined && config.triggers.some((trigger) => trigger.type === 'file') ? { filesDir } : {}),
    ...(commands === undefined ? {} : { commands }),
    module,
    version,
    image,
    memoryMb: config.memoryMb,
    cpus: config.cpus,
    pids: config.pids,
    network: config.network,
    env: config.env,
  };
}

export function poolSettings(config: ModuleConfig, stopGraceMs: number): PoolSettings {
  return {
    minWarm: config.minWarm,
    maxInstances: config.maxInstances,
    concurrency: config.concurrency,
    idleTimeoutMs: config.idleTimeoutMs,
    pauseAfterMs: config.pauseAfterMs,
    timeoutMs: config.timeoutMs,
    maxQueue: config.maxQueue,
    startTimeoutMs: config.startTimeoutMs,
    stopGraceMs,
  };
}
