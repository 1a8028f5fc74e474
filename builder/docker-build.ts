import { buildContext, buildNeedsNetwork } from './build-context.js';
import type { BuildBackend, BuildPlan } from './build-image.js';
import { checkResult, codeFailure, hasResult, requirementsFailure, tail } from './build-output.js';
import { BuildError } from './errors.js';
import type { ImageEngine } from './image-engine.js';
import { imageTag } from './image-tag.js';
import type { PythonRuntime } from '../runtimes/index.js';

/** Builds a module into a Docker image on top of the Python base image. */
export class DockerBuild implements BuildBackend {
  readonly platform: string;

  constructor(
    private readonly engine: ImageEngine,
    private readonly runtime: PythonRuntime,
    private readonly baseImage: string,
  ) {
    this.platform = baseImage;
  }

  tag(module: string, version: string): string {
    return imageTag(module, version);
  }

  exists(tag: string): Promise<boolean> {
    return this.engine.imageExists(tag);
  }

  imageId(ref: string): Promise<string | undefined> {
    return this.engine.imageId(ref);
  }

  async build(plan: BuildPlan): Promise<string[]> {
    const labels = { 'hearth.module': plan.pkg.module, 'hearth.version': plan.version };
    const context = await buildContext(plan.pkg, { baseImage: this.baseImage, runtimeFiles: this.runtime.files, labels });
    const network = buildNeedsNetwork(plan.pkg);
    let output = await this.engine.buildImage(context, { tag: plan.tag, labels, network, noCache: false });
    // A build served from the layer cache does not re-run the import check, so
    // it prints no functions; build once more without the cache to learn them.
    if (output.error === undefined && !hasResult(output.log)) {
      output = await this.engine.buildImage(context, { tag: plan.tag, labels, network, noCache: true });
    }
    if (output.error !== undefined) throw failure(output.log, output.error);
    return checkResult(output.log);
  }
}

/** Tells the user's fault (their code or requirements) from the platform's. */
function failure(log: string, engineError: string): Error {
  const located = codeFailure(log);
  if (located !== undefined) return located;
  const steps = log.split('\n').filter((line) => line.startsWith('Step '));
  if ((steps[steps.length - 1] ?? '').includes('pip install')) return requirementsFailure(log, engineError);
  return new BuildError(`image build failed: ${engineError}`, { output: tail(log) });
}
