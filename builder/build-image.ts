import { gunzipSync, gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { PythonRuntime } from '../runtimes/index.js';
import { buildContext, buildNeedsNetwork } from './build-context.js';
import { BuildError, BuildFailedError } from './errors.js';
import type { ImageEngine } from './image-engine.js';
import { contentHash, imageTag } from './image-tag.js';
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

export interface BuilderDeps {
  readonly engine: ImageEngine;
  readonly runtime: PythonRuntime;
  readonly baseImage: string;
  readonly log: Logger;
}

const RESULT = 'HEARTH_RESULT ';
const ERROR = 'HEARTH_ERROR ';

export class Builder {
  constructor(private readonly deps: BuilderDeps) {}

  plan(pkg: ModulePackage): BuildPlan {
    const version = contentHash(pkg, this.deps.runtime.digest, this.deps.baseImage);
    return { pkg, version, tag: imageTag(pkg.module, version) };
  }

  hasImage(tag: string): Promise<boolean> {
    return this.deps.engine.imageExists(tag);
  }

  /** Builds the image; a compile, import or requirements failure throws BuildFailedError with file and line. */
  async build(plan: BuildPlan): Promise<BuiltImage> {
    const started = performance.now();
    const labels = { 'hearth.module': plan.pkg.module, 'hearth.version': plan.version };
    const context = await buildContext(plan.pkg, { baseImage: this.deps.baseImage, runtimeSource: this.deps.runtime.source, labels });
    const network = buildNeedsNetwork(plan.pkg);
    let output = await this.deps.engine.buildImage(context, { tag: plan.tag, labels, network, noCache: false });
    // A build served from the layer cache does not re-run the import check, so
    // it prints no functions; build once more without the cache to learn them.
    if (output.error === undefined && findLine(output.log, RESULT) === undefined) {
      output = await this.deps.engine.buildImage(context, { tag: plan.tag, labels, network, noCache: true });
    }
    if (output.error !== undefined) throw buildFailure(output.log, output.error);
    const result = parseLine(output.log, RESULT) as { functions?: string[] } | undefined;
    if (!Array.isArray(result?.functions)) {
      throw new BuildError('the image built but its import check printed no result', { output: tail(output.log) });
    }
    this.deps.log.info({ module: plan.pkg.module, tag: plan.tag, ms: Math.round(performance.now() - started) }, 'image built');
    return { tag: plan.tag, version: plan.version, functions: result.functions };
  }
}

function findLine(log: string, prefix: string): string | undefined {
  return log.split('\n').find((line) => line.startsWith(prefix));
}

function parseLine(log: string, prefix: string): unknown {
  const line = findLine(log, prefix);
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line.slice(prefix.length));
  } catch {
    return undefined;
  }
}

function tail(log: string, lines = 30): string {
  return log.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Tells the user's fault (their code or requirements) from the platform's. */
function buildFailure(log: string, engineError: string): Error {
  const located = parseLine(log, ERROR) as
    | { file: string | null; line: number | null; message: string; traceback: string }
    | undefined;
  if (located !== undefined) {
    const where = located.file ? ` (${located.file}${located.line ? `, line ${located.line}` : ''})` : '';
    return new BuildFailedError(`${located.message}${where}`, {
      file: located.file,
      line: located.line,
      traceback: located.traceback,
    });
  }
  const steps = log.split('\n').filter((line) => line.startsWith('Step '));
  const lastStep = steps[steps.length - 1] ?? '';
  if (lastStep.includes('pip install')) {
    return new BuildFailedError(`installing requirements.txt failed: ${engineError}`, {
      file: 'requirements.txt',
      line: null,
      step: 'requirements',
      output: tail(log),
    });
  }
  return new BuildError(`image build failed: ${engineError}`, { output: tail(log) });
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
