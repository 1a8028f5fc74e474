import { gunzipSync, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { PythonRuntime } from '../runtimes/index.js';
import { InvalidPackageError } from './errors.js';
import { imageFunctionsVersion, type ImageFunctions } from './image-functions.js';
import { contentHash } from './image-tag.js';
import type { ModulePackage } from './package-files.js';

/** A package with its content address, ready to build. */
export interface BuildPlan {
  readonly pkg: ModulePackage;
  readonly version: string;
  readonly tag: string;
}

export interface BuiltImage {
  readonly tag: string;
  readonly version: string;
  /** The public functions the module defines, found by importing it at build time. */
  readonly functions: readonly string[];
}

/** Where builds go: Docker images, or folders for the process driver. */
export interface BuildBackend {
  /** What builds run on (base image, interpreter): part of every content address. */
  readonly platform: string;
  /** The image reference (or folder) of a module version. */
  tag(module: string, version: string): string;
  exists(tag: string): Promise<boolean>;
  /** Builds the plan; resolves with the module's public functions. Compile, import or requirements failures throw BuildFailedError. */
  build(plan: BuildPlan): Promise<string[]>;
  /** The id of a local container image, for image functions; absent where builds are not images (the process driver). */
  imageId?(ref: string): Promise<string | undefined>;
}

export interface BuilderDeps {
  readonly backend: BuildBackend;
  readonly runtime: PythonRuntime;
  readonly log: Logger;
}

export class Builder {
  constructor(private readonly deps: BuilderDeps) {}

  plan(pkg: ModulePackage): BuildPlan {
    const version = contentHash(pkg, this.deps.runtime.digest, this.deps.backend.platform);
    return { pkg, version, tag: this.deps.backend.tag(pkg.module, version) };
  }

  hasImage(tag: string): Promise<boolean> {
    return this.deps.backend.exists(tag);
  }

  /**
   * An image module needs no build: its image must exist on the engine, and
   * its version is the image's id with the functions' commands. The tag is
   * the image id, so instances run exactly the image that was deployed.
   */
  async resolveImage(spec: ImageFunctions): Promise<BuiltImage> {
    if (this.deps.backend.imageId === undefined) {
      throw new InvalidPackageError('image functions need a container engine: this daemon runs the process driver (start it with HEARTH_DRIVER=docker)');
    }
    const id = await this.deps.backend.imageId(spec.image);
    if (id === undefined) {
      throw new InvalidPackageError(`there is no image ${JSON.stringify(spec.image)} on this engine: build or load it first (hearth pulls from no registry)`);
    }
    return { tag: id, version: imageFunctionsVersion(id, spec), functions: Object.keys(spec.functions) };
  }

  async build(plan: BuildPlan): Promise<BuiltImage> {
    const started = performance.now();
    const functions = await this.deps.backend.build(plan);
    this.deps.log.info({ module: plan.pkg.module, tag: plan.tag, ms: Math.round(performance.now() - started) }, 'module built');
    return { tag: plan.tag, version: plan.version, functions };
  }
}

/** Packages are kept in SQLite so a module can be rebuilt when its image is gone. */
export function serializePackage(pkg: ModulePackage): Buffer {
  const files = Object.fromEntries([...pkg.files].map(([name, data]) => [name, data.toString('base64')]));
  return gzipSync(JSON.stringify({ module: pkg.module, files, requirements: pkg.requirements ?? null }));
}

export function deserializePackage(blob: Buffer): ModulePackage {
  const raw = JSON.parse(gunzipSync(blob).toString('utf8')) as {
    module: string;
    files: Record<string, string>;
    requirements: string | null;
  };
  return {
    module: raw.module,
    files: new Map(Object.entries(raw.files).map(([name, b64]) => [name, Buffer.from(b64, 'base64')])),
    requirements: raw.requirements ?? undefined,
  };
}
