import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  commandsOf,
  deserializePackage,
  readPackage,
  serializeImageFunctions,
  serializePackage,
  storedImageFunctions,
  type Builder,
  type ImageFunctions,
  type PackageUpload,
} from '../builder/index.js';
import type { PoolManager } from '../pool/index.js';
import type { ModuleRow, Store } from '../store/index.js';
import { InvalidRequestError, ModuleNotFoundError } from './errors.js';
import { instanceSpec, poolSettings, resolveModuleConfig, type ConfigDefaults, type ModuleConfig } from './module-config.js';

/** Python source built into an image, or a container image the user already has. */
export type DeployInput = PythonDeploy | ImageDeploy;

export interface PythonDeploy {
  readonly upload: PackageUpload;
  readonly requirements?: string;
  /** Replaces the module's config when given; a redeploy without it keeps the previous one. */
  readonly config?: Partial<ModuleConfig>;
}

export interface ImageDeploy {
  readonly image: ImageFunctions;
  readonly config?: Partial<ModuleConfig>;
}

/** What a deploy runs: its image, version and stored package, usable now or after a build. */
interface Artifact {
  readonly image: string;
  readonly version: string;
  readonly package: Buffer;
  /** The functions when nothing needs building. */
  readonly existing: readonly string[] | undefined;
  build(): Promise<readonly string[]>;
}

export interface RegistryDeps {
  readonly store: Store;
  readonly builder: Builder;
  readonly pools: PoolManager;
  readonly log: Logger;
  readonly defaults: ConfigDefaults;
  /** SIGTERM → SIGKILL grace for an instance, and how long a removal waits for in-flight calls. */
  readonly stopGraceMs: number;
  /** Told of every image build, for the metrics. */
  readonly onBuild?: (module: string, seconds: number, ok: boolean) => void;
  /** Told when a module's record becomes the live one (deploy, scale, start), and when it goes: its triggers follow. */
  readonly onActivate?: (record: ModuleRecord) => void;
  readonly onRemove?: (module: string) => void;
  /** Where modules with file triggers get their shared files folder (`<filesRoot>/<module>`). */
  readonly filesRoot?: string;
}

/** A deployed module as the API shows it. */
export interface ModuleRecord {
  readonly name: string;
  /** python: uploaded source built into `image`; image: commands run in the user's image (`image` is its id). */
  readonly kind: 'python' | 'image';
  readonly version: string;
  readonly image: string;
  /** An image module's image reference and commands, as deployed. */
  readonly imageFunctions?: ImageFunctions;
  readonly config: ModuleConfig;
  readonly functions: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface Entry {
  readonly record: ModuleRecord;
  /** For the hot path: is `fn` defined, without scanning an array. */
  readonly functions: ReadonlySet<string>;
}

/**
 * The deployed modules: in memory for the request path, backed by SQLite,
 * each with its pool configured. Deploys and removals of one module are
 * serialized; different modules deploy in parallel.
 */
export class ModuleRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: RegistryDeps) {}

  /** Loads every stored module (rebuilding images that disappeared) and configures its pool. */
  async load(): Promise<void> {
    for (let row of this.deps.store.modules.list()) {
      const present = await this.deps.builder.hasImage(row.image);
      const imageFunctions = storedImageFunctions(row.package);
      if (!present && imageFunctions !== undefined) {
        // A user's image cannot be rebuilt here: say so once, and let its calls name the cause.
        this.deps.log.error(
          { module: row.name, image: imageFunctions.image },
          'the image this module was deployed with is gone: calls will fail until it is loaded again and the module redeployed',
        );
      } else if (!present) {
        this.deps.log.warn({ module: row.name, image: row.image }, 'image missing: rebuilding from the stored package');
        try {
          // Another driver (or base image) gives another tag and version: keep what was built.
          const built = await this.build(row.name, this.deps.builder.plan(deserializePackage(row.package)));
          row = { ...row, image: built.tag, version: built.version, functions: [...built.functions] };
          this.deps.store.modules.save(row);
        } catch (err) {
          this.deps.log.error({ module: row.name, err }, 'rebuild failed; calls to this module will fail until it is redeployed');
        }
      }
      // Rows written by older versions lack newer settings: fill in today's defaults.
      this.activate({ ...toRecord(row, imageFunctions), config: resolveModuleConfig(row.config as Partial<ModuleConfig>, this.deps.defaults) });
    }
  }

  get(name: string): ModuleRecord | undefined {
    return this.entries.get(name)?.record;
  }

  /** The module's record and its function set (the hot path's lookup); undefined when unknown. */
  lookup(name: string): Entry | undefined {
    return this.entries.get(name);
  }

  list(): ModuleRecord[] {
    return [...this.entries.values()].map((entry) => entry.record).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** `changed` is false when the code and config are those already deployed: then nothing is touched. */
  deploy(name: string, input: DeployInput): Promise<{ record: ModuleRecord; built: boolean; created: boolean; changed: boolean }> {
    return this.serialized(name, async () => {
      const previous = this.entries.get(name)?.record;
      const config = resolveModuleConfig(input.config ?? previous?.config, this.deps.defaults);
      const artifact = 'image' in input ? await this.imageArtifact(input.image) : await this.pythonArtifact(name, input);
      if (
        previous !== undefined &&
        artifact.existing !== undefined &&
        previous.image === artifact.image &&
        previous.version === artifact.version &&
        sameConfig(previous.config, config)
      ) {
        return { record: previous, built: false, created: false, changed: false };
      }
      const built = artifact.existing === undefined;
      const functions = artifact.existing ?? (await artifact.build());
      const missing = config.triggers.filter((trigger) => !functions.includes(trigger.function));
      if (missing.length > 0) {
        throw new InvalidRequestError(`config/triggers names a function the module does not define: ${missing.map((t) => t.function).join(', ')} (it has ${functions.join(', ')})`);
      }
      const now = new Date().toISOString();
      const row: ModuleRow = {
        name,
        version: artifact.version,
        image: artifact.image,
        config: { ...config },
        functions,
        package: artifact.package,
        createdAt: previous?.createdAt ?? now,
        updatedAt: now,
      };
      this.deps.store.modules.save(row);
      const record = toRecord(row, 'image' in input ? input.image : undefined);
      this.activate(record);
      this.deps.log.info({ module: name, kind: record.kind, version: artifact.version, built }, 'module deployed');
      return { record, built, created: previous === undefined, changed: true };
    });
  }

  /** Changes the pool settings of a live module: no rebuild, no restart of its instances. */
  scale(name: string, changes: Partial<ModuleConfig>): Promise<ModuleRecord> {
    return this.serialized(name, async () => {
      const current = this.entries.get(name)?.record;
      if (current === undefined) throw new ModuleNotFoundError(name);
      const config = resolveModuleConfig({ ...current.config, ...changes }, this.deps.defaults);
      const updatedAt = new Date().toISOString();
      this.deps.store.modules.updateConfig(name, { ...config }, updatedAt);
      const record = { ...current, config, updatedAt };
      this.activate(record);
      this.deps.log.info({ module: name, changes }, 'module scaled');
      return record;
    });
  }

  remove(name: string): Promise<void> {
    return this.serialized(name, async () => {
      if (!this.entries.has(name)) throw new ModuleNotFoundError(name);
      this.entries.delete(name);
      this.deps.onRemove?.(name);
      this.deps.store.modules.delete(name);
      await this.deps.pools.remove(name, this.deps.stopGraceMs);
      this.deps.log.info({ module: name }, 'module removed');
    });
  }

  private async pythonArtifact(name: string, input: PythonDeploy): Promise<Artifact> {
    const pkg = await readPackage(name, input.upload, input.requirements);
    const plan = this.deps.builder.plan(pkg);
    const known = this.deps.store.builds.get(plan.tag);
    const usable = known !== undefined && (await this.deps.builder.hasImage(plan.tag));
    return {
      image: plan.tag,
      version: plan.version,
      package: serializePackage(pkg),
      existing: usable ? known.functions : undefined,
      build: async () => {
        const { functions } = await this.build(name, plan);
        this.deps.store.builds.put({ tag: plan.tag, module: name, functions, createdAt: new Date().toISOString() });
        return functions;
      },
    };
  }

  private async imageArtifact(spec: ImageFunctions): Promise<Artifact> {
    const resolved = await this.deps.builder.resolveImage(spec);
    return {
      image: resolved.tag,
      version: resolved.version,
      package: serializeImageFunctions(spec),
      existing: resolved.functions,
      build: async () => resolved.functions,
    };
  }

  private async build(module: string, plan: Parameters<Builder['build']>[0]): ReturnType<Builder['build']> {
    const started = performance.now();
    try {
      const built = await this.deps.builder.build(plan);
      this.deps.onBuild?.(module, (performance.now() - started) / 1000, true);
      return built;
    } catch (err) {
      this.deps.onBuild?.(module, (performance.now() - started) / 1000, false);
      throw err;
    }
  }

  private activate(record: ModuleRecord): void {
    this.entries.set(record.name, { record, functions: new Set(record.functions) });
    this.deps.onActivate?.(record);
    const filesDir = this.filesDir(record);
    const commands = record.imageFunctions === undefined ? undefined : commandsOf(record.imageFunctions);
    this.deps.pools.configure(
      instanceSpec(record.name, record.version, record.image, record.config, filesDir, commands),
      poolSettings(record.config, this.deps.stopGraceMs),
    );
  }

  /** The module's shared files folder, made (traversable by instance users) when it has file triggers. */
  filesDir(record: ModuleRecord): string | undefined {
    if (this.deps.filesRoot === undefined || !record.config.triggers.some((trigger) => trigger.type === 'file')) return undefined;
    const dir = join(this.deps.filesRoot, record.name);
    mkdirSync(dir, { recursive: true });
    chmodSync(this.deps.filesRoot, 0o711);
    chmodSync(dir, 0o711);
    return dir;
  }

  private serialized<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.locks.set(name, next);
    void next.catch(() => undefined).finally(() => {
      if (this.locks.get(name) === next) this.locks.delete(name);
    });
    return next;
  }
}

function sameConfig(a: ModuleConfig, b: ModuleConfig): boolean {
  const keys = Object.keys(a) as (keyof ModuleConfig)[];
  return keys.length === Object.keys(b).length && keys.every((key) => JSON.stringify(a[key]) === JSON.stringify(b[key]));
}

/** `imageFunctions`: an image module's spec, when the caller has it already (else read from the stored package). */
function toRecord(row: ModuleRow, imageFunctions = storedImageFunctions(row.package)): ModuleRecord {
  return {
    name: row.name,
    kind: imageFunctions === undefined ? 'python' : 'image',
    ...(imageFunctions === undefined ? {} : { imageFunctions }),
    version: row.version,
    image: row.image,
    config: row.config as unknown as ModuleConfig,
    functions: row.functions,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
