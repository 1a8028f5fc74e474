import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { InstanceStartError } from '../errors.js';
import type { Driver, DriverInfo, DriverInstance, ExitInfo, InstanceHandle, InstanceSpec } from '../driver.js';
import type { ProcessHost } from './process-host.js';
import { type Command, sandboxCommand, type SandboxRun } from './sandbox.js';
import { UidPool } from './uid-pool.js';

/** The host refused to start an instance's process (spawn failed, no uid left). */
export class InstanceLaunchError extends Error {
  readonly code = 'ENGINE_UNAVAILABLE';
}

export interface ProcessDriverOptions {
  readonly host: ProcessHost;
  /** One sub-folder per instance (its socket and pid file). */
  readonly runDir: string;
  /**
   * When the daemon runs as root: builds run as `first`, instances as
   * `first + 1 …`, one uid each. Undefined: everything runs as the daemon's user.
   */
  readonly uids: { readonly first: number; readonly count: number } | undefined;
  readonly log: Logger;
}

/** A build step: python with `args`, in the sandbox, as the build user, within a time limit. */
export interface BuildRun extends SandboxRun {
  readonly timeoutMs: number;
}

export interface BuildRunResult {
  readonly exitCode: number | null;
  readonly output: string;
  readonly timedOut: boolean;
}

interface Live {
  readonly child: ChildProcess;
  readonly module: string;
  paused: boolean;
}

const SOCKET_NAME = 'fn.sock';
const PID_FILE = 'pid';
const MAX_SOCKET_PATH = 107;
const LOG_TAIL_BYTES = 16 * 1024;
const MAX_BUILD_OUTPUT = 1024 * 1024;
const PIPE_DRAIN_MS = 200;
// The system's directories, the user's PATH would leak the daemon's layout.
const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The process driver: each instance is a local python3 running
 * hearth_runtime.py on the same Unix-socket protocol as a container, inside
 * bubblewrap when the host has it. Also runs the builder's steps (structurally
 * its LocalRunner), so builds see exactly what instances will see.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process';
  readonly platform: string;
  private readonly live = new Map<string, Live>();
  private readonly uids: UidPool | undefined;

  constructor(private readonly options: ProcessDriverOptions) {
    const { python } = options.host;
    this.platform = `process:python-${python.version}:${python.executable}`;
    this.uids = options.uids === undefined ? undefined : new UidPool(options.uids.first + 1, options.uids.count);
    if (Buffer.byteLength(join(options.runDir, 'x'.repeat(12), SOCKET_NAME)) > MAX_SOCKET_PATH) {
      throw new Error(`instance socket paths under ${options.runDir} exceed ${MAX_SOCKET_PATH} bytes: choose a shorter HEARTH_DATA_DIR`);
    }
  }

  /** The uid:gid builds run as, or undefined when everything runs as the daemon's user. */
  get buildUser(): { uid: number; gid: number } | undefined {
    const first = this.options.uids?.first;
    return first === undefined ? undefined : { uid: first, gid: first };
  }

  /** The folder is bound at its own path (or seen as it is, without a sandbox). */
  filesPath(filesDir: string): string {
    return filesDir;
  }

  describe(): DriverInfo {
    const { python, bwrap, sandboxProblem } = this.options.host;
    const enforced: string[] = [];
    const notEnforced: string[] = ['cpus (no cgroup: a busy function competes for the CPU with the daemon)'];
    if (bwrap !== undefined) {
      enforced.push(
        'own mount, PID, IPC, UTS and network namespaces (bubblewrap); dies with the daemon',
        'read-only view of the system and of the code, private /tmp',
        'no network unless the module sets network: true',
      );
    } else {
      enforced.push('dies with the daemon (parent-death signal)');
      notEnforced.push(
        `file system and network isolation (${sandboxProblem ?? 'HEARTH_SANDBOX=none'}): the function sees the host's files and network`,
      );
    }
    enforced.push('memory (memoryMb as RLIMIT_AS, set before the module is imported)', 'environment limited to what the module declares');
    if (this.uids !== undefined) enforced.push('a uid of its own per instance, never root', 'pids (RLIMIT_NPROC of that uid)');
    else notEnforced.push("own uid (instances run as the daemon's user; start hearth as root for a uid per instance)", 'pids');
    return {
      name: this.name,
      runtime: `Python ${python.version} (${python.executable})`,
      sandbox: bwrap === undefined ? 'none' : `bubblewrap ${bwrap.version}`,
      enforced,
      notEnforced,
    };
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    if (spec.commands !== undefined) {
      throw new InstanceStartError('image functions need a container engine: this daemon runs the process driver (start it with HEARTH_DRIVER=docker)', { logs: '' });
    }
    const id = randomBytes(6).toString('hex');
    const dir = join(this.options.runDir, id);
    let uid: number | undefined;
    let launched: Launched | undefined;
    try {
      uid = this.uids?.acquire();
      await mkdir(dir, { recursive: true });
      // Only the instance's own uid (and the root daemon) may reach its socket.
      if (uid !== undefined) await chown(dir, uid, uid);
      await chmod(dir, 0o700);
      const socketPath = join(dir, SOCKET_NAME);
      const build = spec.image;
      const command = this.command({
        args: [join(build, 'hearth_runtime.py'), 'serve', '--code', join(build, 'code'), '--deps', join(build, 'deps'), '--module', spec.module, '--socket', socketPath],
        readOnly: [build],
        writable: spec.filesDir === undefined ? [dir] : [dir, spec.filesDir],
        network: spec.network,
        env: this.env(spec.env, {
          HEARTH_MEMORY_LIMIT_MB: String(spec.memoryMb),
          ...(uid !== undefined ? { HEARTH_MAX_PROCS: String(spec.pids) } : {}),
        }),
      });
      launched = await launch(command, uid, dir, { keep: 'tail', bytes: LOG_TAIL_BYTES });
      const entry: Live = { child: launched.child, module: spec.module, paused: false };
      this.live.set(id, entry);
      const exited = this.watchExit(id, launched, dir, uid);
      await writeFile(join(dir, PID_FILE), `${launched.child.pid}\n`).catch(() => undefined);
      return { id, socketPath, exited };
    } catch (err) {
      if (launched !== undefined) {
        killGroup(launched.child, 'SIGKILL');
        await launched.exit;
      }
      this.live.delete(id);
      if (uid !== undefined) this.uids?.release(uid);
      await rm(dir, { recursive: true, force: true });
      throw new InstanceLaunchError(`could not start python for ${spec.module}: ${(err as Error).message}`, { cause: err });
    }
  }

  async stop(handle: InstanceHandle, graceMs: number): Promise<void> {
    const entry = this.live.get(handle.id);
    if (entry !== undefined) {
      // A frozen process cannot act on SIGTERM.
      if (entry.paused) this.signal(entry, 'SIGCONT');
      // The runtime finishes its calls on SIGTERM; bwrap's own processes would die at once
      // and take the sandbox with them, so under bwrap only the runtime gets it.
      await this.terminate(entry);
      const timer = setTimeout(() => this.signal(entry, 'SIGKILL'), graceMs);
      await handle.exited.finally(() => clearTimeout(timer));
      return;
    }
    await handle.exited;
  }

  async kill(handle: InstanceHandle): Promise<void> {
    const entry = this.live.get(handle.id);
    if (entry !== undefined) this.signal(entry, 'SIGKILL');
    await handle.exited;
  }

  async pause(handle: InstanceHandle): Promise<void> {
    const entry = this.requireLive(handle);
    this.signal(entry, 'SIGSTOP');
    entry.paused = true;
  }

  async unpause(handle: InstanceHandle): Promise<void> {
    const entry = this.requireLive(handle);
    this.signal(entry, 'SIGCONT');
    entry.paused = false;
  }

  async listInstances(module?: string): Promise<DriverInstance[]> {
    return [...this.live.entries()]
      .filter(([, entry]) => module === undefined || entry.module === module)
      .map(([id, entry]) => ({ id, module: entry.module, state: entry.paused ? 'paused' : 'running', pid: entry.child.pid }));
  }

  /**
   * Kills what an earlier run left behind. Instances die with the daemon on
   * their own (parent-death signal); this covers the rest, and checks each
   * pid's command line so a reused pid is never killed.
   */
  async removeOrphans(): Promise<number> {
    let killed = 0;
    const entries = await readdir(this.options.runDir).catch(() => [] as string[]);
    for (const id of entries) {
      const dir = join(this.options.runDir, id);
      const pid = Number((await readFile(join(dir, PID_FILE), 'utf8').catch(() => '')).trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes(join(dir, SOCKET_NAME))) continue;
      try {
        process.kill(-pid, 'SIGKILL');
        killed += 1;
      } catch {
        // gone meanwhile
      }
    }
    await rm(this.options.runDir, { recursive: true, force: true });
    await mkdir(this.options.runDir, { recursive: true });
    return killed;
  }

  // ---- LocalRunner (see builder/local-runner.ts) ----

  /** Runs one build step to completion, with its output bounded. */
  async runPython(run: BuildRun): Promise<BuildRunResult> {
    const command = this.command({ ...run, env: this.env(run.env, {}) });
    const user = this.buildUser;
    const launched = await launch(command, user?.uid, run.writable[0] ?? '/', { keep: 'head', bytes: MAX_BUILD_OUTPUT });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(launched.child, 'SIGKILL');
    }, run.timeoutMs);
    const [code] = await launched.exit;
    clearTimeout(timer);
    return { exitCode: code, output: launched.output(), timedOut };
  }

  private command(run: SandboxRun): Command {
    const { python, bwrap } = this.options.host;
    return sandboxCommand(python, bwrap, run);
  }

  /** The scrubbed environment: the module's own variables and what the runtime needs, nothing of the daemon's. */
  private env(declared: Readonly<Record<string, string>>, limits: Record<string, string>): Record<string, string> {
    return {
      PATH: SAFE_PATH,
      HOME: '/tmp',
      LANG: 'C.UTF-8',
      ...declared,
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      // One malloc arena: each extra one reserves 64 MiB of address space, which RLIMIT_AS counts.
      MALLOC_ARENA_MAX: '1',
      ...(this.options.host.bwrap === undefined ? { HEARTH_PARENT_PID: String(process.pid) } : {}),
      ...limits,
    };
  }

  private requireLive(handle: InstanceHandle): Live {
    const entry = this.live.get(handle.id);
    if (entry === undefined) throw new Error(`instance ${handle.id} is not running`);
    return entry;
  }

  private signal(entry: Live, signal: NodeJS.Signals): void {
    killGroup(entry.child, signal);
  }

  private async watchExit(id: string, launched: Launched, dir: string, uid: number | undefined): Promise<ExitInfo> {
    const [code, signal] = await launched.exit;
    // The group may outlive its leader (a forked child of the function): end it too.
    killGroup(launched.child, 'SIGKILL');
    this.live.delete(id);
    if (uid !== undefined) this.uids?.release(uid);
    await rm(dir, { recursive: true, force: true });
    return { exitCode: code, signal: signal ?? this.signalFromCode(code), oomKilled: false, logs: launched.output() };
  }

  /** SIGTERM to the runtime: the group without a sandbox, the processes inside it with one. */
  private async terminate(entry: Live): Promise<void> {
    const pid = entry.child.pid;
    if (this.options.host.bwrap === undefined || pid === undefined) return this.signal(entry, 'SIGTERM');
    const inside = await sandboxedPids(pid);
    if (inside.length === 0) return this.signal(entry, 'SIGTERM');
    for (const target of inside) {
      try {
        process.kill(target, 'SIGTERM');
      } catch {
        // gone
      }
    }
  }

  /** bubblewrap reports a child killed by signal n as exit code 128 + n. */
  private signalFromCode(code: number | null): string | null {
    if (this.options.host.bwrap === undefined || code === null || code <= 128) return null;
    const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
    return entry?.[0] ?? null;
  }
}

interface Launched {
  readonly child: ChildProcess;
  /** Settles when the process exits (not when its pipes close: a stray child may hold them). */
  readonly exit: Promise<[number | null, NodeJS.Signals | null]>;
  /** What it printed: the first or the last `bytes`. */
  output(): string;
}

/**
 * Spawns in a new process group (so signals reach the whole sandbox), with its
 * output collected and its exit watched from the first moment: an instance that
 * dies at once is still noticed.
 */
async function launch(
  command: Command,
  uid: number | undefined,
  cwd: string,
  keep: { keep: 'head' | 'tail'; bytes: number },
): Promise<Launched> {
  const child = spawn(command.file, command.args, {
    env: command.env,
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  let text = '';
  const collect = (chunk: Buffer): void => {
    if (keep.keep === 'tail') text = (text + chunk.toString('utf8')).slice(-keep.bytes);
    else if (text.length < keep.bytes) text += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (code, signal) => {
      // Let the pipes drain briefly, then stop waiting for them.
      const drained = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve([code, signal]);
      }, PIPE_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drained);
        resolve([code, signal]);
      });
    });
    child.once('error', () => resolve([null, null]));
  });
  await once(child, 'spawn');
  return { child, exit, output: () => text };
}

/** The non-bubblewrap processes under `pid` (the runtime and its children), via /proc/<pid>/task/<pid>/children. */
async function sandboxedPids(pid: number): Promise<number[]> {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    const children = await readFile(`/proc/${current}/task/${current}/children`, 'utf8').catch(() => '');
    for (const child of children.split(' ').filter(Boolean).map(Number)) {
      const argv0 = (await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '')).split('\0')[0] ?? '';
      if (argv0.endsWith('bwrap')) queue.push(child);
      else found.push(child);
    }
  }
  return found;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
