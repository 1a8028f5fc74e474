import { chmod, chown, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RUNTIME_ENTRY, type PythonRuntime } from '../runtimes/index.js';
import { buildNeedsNetwork, hasBundledWheels } from './build-context.js';
import type { BuildBackend, BuildPlan } from './build-image.js';
import { checkResult, codeFailure, requirementsFailure, tail } from './build-output.js';
import { BuildError } from './errors.js';
import type { LocalRun, LocalRunner } from './local-runner.js';

const MARKER = 'build.json';
const PIP_TIMEOUT_MS = 10 * 60_000;
const STEP_TIMEOUT_MS = 2 * 60_000;

/**
 * Builds a module into a folder for the process driver, named by its content
 * hash under the data dir: the code, requirements installed with
 * `pip --target`, byte-compiled, and imported once in a throwaway sandboxed
 * process. Written to a temporary folder and renamed, so a folder with
 * build.json is always complete.
 */
export class LocalBuild implements BuildBackend {
  readonly platform: string;

  constructor(
    private readonly runner: LocalRunner,
    private readonly runtime: PythonRuntime,
    private readonly buildsDir: string,
  ) {
    this.platform = runner.platform;
  }

  tag(module: string, version: string): string {
    return join(this.buildsDir, `${module}-${version}`);
  }

  async exists(tag: string): Promise<boolean> {
    return stat(join(tag, MARKER)).then(
      () => true,
      () => false,
    );
  }

  async build(plan: BuildPlan): Promise<string[]> {
    // Traversable, not listable: an instance finds its own build, not the others'.
    await mkdir(this.buildsDir, { recursive: true, mode: 0o711 });
    await chmod(this.buildsDir, 0o711);
    const dir = await mkdtemp(join(this.buildsDir, '.building-'));
    try {
      // Instances run as other users: they read the build, only its owner writes it.
      await chmod(dir, 0o755);
      const functions = await this.buildIn(dir, plan);
      // Built: back to the daemon's user, so no later build step (same build uid) can rewrite it.
      if (this.runner.buildUser !== undefined) await chownTree(dir, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
      await writeFile(join(dir, MARKER), `${JSON.stringify({ module: plan.pkg.module, version: plan.version, functions })}\n`);
      await rm(plan.tag, { recursive: true, force: true });
      await rename(dir, plan.tag);
      return functions;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private async buildIn(dir: string, plan: BuildPlan): Promise<string[]> {
    const { pkg } = plan;
    const code = join(dir, 'code');
    const deps = join(dir, 'deps');
    const runtime = join(dir, RUNTIME_ENTRY);
    for (const [name, data] of pkg.files) {
      await mkdir(dirname(join(code, name)), { recursive: true });
      await writeFile(join(code, name), data);
    }
    await mkdir(code, { recursive: true });
    await mkdir(deps);
    for (const [name, source] of this.runtime.files) await writeFile(join(dir, name), source);
    if (pkg.requirements !== undefined) await writeFile(join(dir, 'requirements.txt'), pkg.requirements);
    const user = this.runner.buildUser;
    if (user !== undefined) await chownTree(dir, user.uid, user.gid);

    const step = (args: string[], options: Partial<LocalRun> = {}): ReturnType<LocalRunner['runPython']> =>
      this.runner.runPython({ args, readOnly: [], writable: [dir], network: false, env: {}, timeoutMs: STEP_TIMEOUT_MS, ...options });

    if (pkg.requirements !== undefined) {
      const source = hasBundledWheels(pkg) ? ['--no-index', '--find-links', join(code, 'wheels')] : ['--retries', '1', '--timeout', '15'];
      const pip = await step(
        ['-m', 'pip', 'install', '--no-cache-dir', '--disable-pip-version-check', '--no-input', ...source, '--target', deps, '-r', join(dir, 'requirements.txt')],
        { network: buildNeedsNetwork(pkg), timeoutMs: PIP_TIMEOUT_MS },
      );
      if (/No module named pip/.test(pip.output)) {
        throw new BuildError(`requirements.txt needs pip, and ${this.platform} has none: install python3-pip`, { output: tail(pip.output) });
      }
      if (pip.exitCode !== 0) {
        throw requirementsFailure(pip.output, pip.timedOut ? `pip did not finish within ${PIP_TIMEOUT_MS / 1000} s` : `pip exited with code ${pip.exitCode}`);
      }
    }
    const compiled = await step([runtime, 'compile', '--code', code]);
    if (compiled.exitCode !== 0) throw codeFailure(compiled.output) ?? stepError('byte-compiling', compiled);
    // The check imports the user's code: read-only, no network, start-only set-up skipped (HEARTH_PHASE=build).
    const checked = await step([runtime, 'check', '--code', code, '--deps', deps, '--module', pkg.module], {
      readOnly: [dir],
      writable: [],
      env: { HEARTH_PHASE: 'build' },
    });
    if (checked.exitCode !== 0) throw codeFailure(checked.output) ?? stepError('the import check', checked);
    return checkResult(checked.output);
  }
}

function stepError(what: string, result: { exitCode: number | null; output: string; timedOut: boolean }): BuildError {
  const how = result.timedOut ? 'did not finish in time' : `exited with code ${result.exitCode}`;
  return new BuildError(`${what} ${how}`, { output: tail(result.output) });
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}
