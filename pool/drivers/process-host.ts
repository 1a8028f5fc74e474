import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { type Bubblewrap, type HostPython, sandboxCommand } from './sandbox.js';

const run = promisify(execFile);
const PROBE_TIMEOUT_MS = 10_000;
const PROBE = 'import json, sys; print(json.dumps([sys.executable, sys.version.split()[0], sys.base_prefix]))';

export type SandboxMode = 'auto' | 'bwrap' | 'none';

/** What the process driver found on this host. */
export interface ProcessHost {
  readonly python: HostPython;
  readonly bwrap: Bubblewrap | undefined;
  /** Why the sandbox is not used although it was allowed (auto mode), for the one warning line. */
  readonly sandboxProblem: string | undefined;
}

export interface DetectOptions {
  /** HEARTH_PYTHON, or undefined for: `python3` on PATH, else /usr/bin/python3. */
  readonly python: string | undefined;
  readonly sandbox: SandboxMode;
  /** PATH to search for python3 and bwrap. */
  readonly path: string;
  /** The uid:gid builds run as, when the daemon drops privileges (root). */
  readonly user: { uid: number; gid: number } | undefined;
}

export class ProcessHostError extends Error {
  readonly code = 'PROCESS_HOST_UNUSABLE';
}

/**
 * Finds an interpreter the function user can run, and whether bubblewrap can
 * create namespaces here, by trying both (not by guessing from files).
 */
export async function detectProcessHost(options: DetectOptions): Promise<ProcessHost> {
  const bwrapPath = options.sandbox === 'none' ? undefined : await which('bwrap', options.path);
  if (options.sandbox === 'bwrap' && bwrapPath === undefined) {
    throw new ProcessHostError('HEARTH_SANDBOX=bwrap but bwrap is not on PATH: apt-get install bubblewrap');
  }
  const bwrap = bwrapPath === undefined ? undefined : { path: bwrapPath, version: await bwrapVersion(bwrapPath) };
  const candidates = options.python !== undefined ? [options.python] : ['python3', '/usr/bin/python3'];
  const problems: string[] = [];
  let sandboxProblem: string | undefined = bwrap === undefined && options.sandbox === 'auto' ? 'bwrap is not installed' : undefined;
  for (const candidate of candidates) {
    const python = await probePython(candidate, options.path).catch((err: Error) => {
      problems.push(`${candidate}: ${err.message}`);
      return undefined;
    });
    if (python === undefined) continue;
    if (bwrap !== undefined) {
      const failure = await tryRun(python, bwrap, options.user);
      if (failure === undefined) return { python, bwrap, sandboxProblem: undefined };
      if (options.sandbox === 'bwrap') {
        throw new ProcessHostError(`HEARTH_SANDBOX=bwrap but bubblewrap cannot run ${python.executable}: ${failure}`);
      }
      sandboxProblem = `bubblewrap cannot run ${python.executable} here (${failure})`;
    }
    const failure = await tryRun(python, undefined, options.user);
    if (failure === undefined) return { python, bwrap: undefined, sandboxProblem };
    problems.push(`${python.executable}: ${failure}`);
  }
  throw new ProcessHostError(
    `no usable Python for the process driver (${problems.join('; ')}): install python3 or set HEARTH_PYTHON`,
  );
}

async function which(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function bwrapVersion(path: string): Promise<string> {
  const { stdout } = await run(path, ['--version'], { timeout: PROBE_TIMEOUT_MS });
  return stdout.trim().replace(/^bubblewrap\s+/, '');
}

async function probePython(candidate: string, path: string): Promise<HostPython> {
  const file = candidate.includes('/') ? candidate : await which(candidate, path);
  if (file === undefined) throw new Error('not found on PATH');
  const { stdout } = await run(file, ['-c', PROBE], { timeout: PROBE_TIMEOUT_MS });
  const [executable, version, prefix] = JSON.parse(stdout) as [string, string, string];
  return { executable, version, prefix };
}

/** Runs the interpreter the way instances will run it; undefined when it works, else why not. */
async function tryRun(python: HostPython, bwrap: Bubblewrap | undefined, user: DetectOptions['user']): Promise<string | undefined> {
  const command = sandboxCommand(python, bwrap, { args: ['-c', 'import encodings'], readOnly: [], writable: [], network: false, env: {} });
  try {
    await run(command.file, command.args, { timeout: PROBE_TIMEOUT_MS, cwd: '/', env: command.env, ...(user ?? {}) });
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').pop();
    return stderr || (err as Error).message;
  }
}
