import type { InstanceSpec, PoolSettings } from '../pool/index.js';

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
}

export const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';

/** JSON schema of `config`; unknown fields are refused so a typo is not silently ignored. */
export const moduleConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    memoryMb: { type: 'integer', minimum: 32, maximum: 16384 },
    cpus: { type: 'number', minimum: 0.05, maximum: 64 },
    pids: { type: 'integer', minimum: 16, maximum: 4096 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
    env: {
      type: 'object',
      maxProperties: 100,
      propertyNames: { pattern: '^(?!HEARTH_)[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: { type: 'string', maxLength: 32768 },
    },
    network: { type: 'boolean' },
    paramsIn: { type: 'string', enum: ['event', 'context'] },
  },
} as const;

export function resolveModuleConfig(given: Partial<ModuleConfig> | undefined, defaultTimeoutMs: number): ModuleConfig {
  return {
    memoryMb: given?.memoryMb ?? 256,
    cpus: given?.cpus ?? 1,
    pids: given?.pids ?? 128,
    timeoutMs: given?.timeoutMs ?? defaultTimeoutMs,
    env: { ...(given?.env ?? {}) },
    network: given?.network ?? false,
    paramsIn: given?.paramsIn ?? 'event',
  };
}

export function instanceSpec(module: string, version: string, image: string, config: ModuleConfig): InstanceSpec {
  return {
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

export function poolSettings(config: ModuleConfig, startTimeoutMs: number, stopGraceMs: number): PoolSettings {
  return { timeoutMs: config.timeoutMs, startTimeoutMs, connections: 16, stopGraceMs };
}
