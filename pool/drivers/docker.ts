import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import type { Driver, DriverInfo, DriverInstance, ExecRequest, ExecResult, ExitInfo, InstanceHandle, InstanceSpec } from '../driver.js';
import { EngineUnavailableError } from '../errors.js';

export interface DockerDriverOptions {
  /** The engine's API socket. */
  readonly socketPath: string;
  /** Labels every container, so this daemon finds (and cleans up) only its own. */
  readonly daemonId: string;
  /** Host folder holding one sub-folder per instance, bind-mounted at /run/hearth. */
  readonly runDir: string;
  /** uid:gid the function runs as; never root. */
  readonly user: string;
  /**
   * The static hearth-exec supervisor (runtimes/exec), mounted into image
   * functions' containers as their entrypoint. Without it their calls are
   * `docker exec`s, tens of ms of engine work each.
   */
  readonly execHelper?: string;
  readonly log: Logger;
}

const SOCKET_NAME = 'fn.sock';
// sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;
const LOG_TAIL_LINES = 50;
// Where a module's shared files folder (file-triggered calls) appears in its containers.
const FILES_MOUNT = '/run/hearth-files';
// An image function's container runs the supervisor, or idles when there is none (each call
// is then an exec). The image's own entrypoint (an ffmpeg image's ffmpeg, say) is for the
// calls, not for the container.
const HELPER_MOUNT = '/run/hearth-exec';
const SUPERVISED = { Entrypoint: [HELPER_MOUNT, `/run/hearth/${SOCKET_NAME}`], Cmd: [] as string[] };
const IDLE = { Entrypoint: ['sleep', 'infinity'], Cmd: [] as string[] };

/**
 * The Docker driver: one container per instance, created with DESIGN.md
 * section 7's defaults. It also builds and imports images for the builder
 * (structurally its ImageEngine). The only file that imports dockerode.
 */
export class DockerDriver implements Driver {
  readonly name = 'docker';
  private readonly docker: Docker;

  constructor(private readonly options: DockerDriverOptions) {
    this.docker = new Docker({ socketPath: options.socketPath });
    const longest = join(options.runDir, 'x'.repeat(12), SOCKET_NAME);
    if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
      throw new Error(`instance socket paths under ${options.runDir} exceed ${MAX_SOCKET_PATH} bytes: choose a shorter HEARTH_DATA_DIR`);
    }
  }

  private engine = 'unknown';

  /** Resolves with the engine's version when it answers; EngineUnavailableError otherwise. */
  async ping(): Promise<string> {
    try {
      const version = await this.docker.version();
      this.engine = `Docker ${version.Version} (API ${version.ApiVersion})`;
      return this.engine;
    } catch (err) {
      throw engineError(err, this.options.socketPath);
    }
  }

  filesPath(): string {
    return FILES_MOUNT;
  }

  describe(): DriverInfo {
    return {
      name: this.name,
      runtime: this.engine,
      sandbox: 'container',
      enforced: [
        `runs as ${this.options.user}, never root, all capabilities dropped, no-new-privileges`,
        'read-only root file system, private /tmp (64 MiB)',
        'no network unless the module sets network: true',
        'memory (memoryMb, no swap), cpus and pids limits (cgroups)',
        'environment limited to what the module declares',
        this.options.execHelper === undefined
          ? 'image functions: each call is a docker exec (no hearth-exec supervisor)'
          : 'image functions: calls run by the hearth-exec supervisor in the container',
      ],
      notEnforced: [],
    };
  }

  async listInstances(module?: string): Promise<DriverInstance[]> {
    const containers = await this.listContainers({
      'hearth.daemon': this.options.daemonId,
      ...(module === undefined ? {} : { 'hearth.module': module }),
    });
    return containers.map((c) => ({ id: c.Id, module: c.Labels['hearth.module'] ?? '', state: c.State }));
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    const helper = this.options.execHelper;
    const id = randomBytes(6).toString('hex');
    const dir = join(this.options.runDir, id);
    await mkdir(dir, { recursive: true });
    // The function runs as a non-root user that must create its socket here.
    await chmod(dir, 0o777);
    let container: Docker.Container | undefined;
    try {
      container = await this.docker.createContainer({
        name: `hearth-${spec.module}-${id}`,
        Image: spec.image,
        User: this.options.user,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: {
          'hearth.daemon': this.options.daemonId,
          'hearth.module': spec.module,
          'hearth.version': spec.version,
          'hearth.instance': id,
        },
        StopSignal: 'SIGTERM',
        ...(spec.commands === undefined ? {} : helper === undefined ? IDLE : SUPERVISED),
        HostConfig: {
          // An image function's container runs under docker-init, which reaps what calls leave and ends on SIGTERM.
          ...(spec.commands === undefined ? {} : { Init: true }),
          Binds: [
            `${dir}:/run/hearth`,
            ...(spec.filesDir === undefined ? [] : [`${spec.filesDir}:${FILES_MOUNT}`]),
            ...(spec.commands === undefined || helper === undefined ? [] : [`${helper}:${HELPER_MOUNT}:ro`]),
          ],
          NetworkMode: spec.network ? 'bridge' : 'none',
          ReadonlyRootfs: true,
          Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=64m' },
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          Memory: spec.memoryMb * 1024 * 1024,
          MemorySwap: spec.memoryMb * 1024 * 1024,
          NanoCpus: Math.round(spec.cpus * 1e9),
          PidsLimit: spec.pids,
        },
      });
      await container.start();
    } catch (err) {
      // A container created but not started would stay behind as "Created".
      await container?.remove({ force: true }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw engineError(err, this.options.socketPath);
    }
    const socketPath = spec.commands !== undefined && helper === undefined ? '' : join(dir, SOCKET_NAME);
    return { id: container.id, socketPath, exited: this.watchExit(container, dir) };
  }

  async stop(handle: InstanceHandle, graceMs: number): Promise<void> {
    await this.docker
      .getContainer(handle.id)
      .stop({ t: Math.ceil(graceMs / 1000) })
      .catch(ignoreGone);
    await handle.exited;
  }

  async exec(handle: InstanceHandle, request: ExecRequest): Promise<ExecResult> {
    const exec = await this.docker.getContainer(handle.id).exec({
      Cmd: [...request.argv],
      Env: Object.entries(request.env).map(([key, value]) => `${key}=${value}`),
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: true });
    const stdout = new CappedOutput(request.maxOutputBytes, 'head');
    const stderr = new CappedOutput(request.maxOutputBytes, 'tail');
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      // A command that exits without reading its stdin resets the write side: its output still counts.
      stream.once('error', () => resolve());
    });
    this.docker.modem.demuxStream(stream, stdout, stderr);
    stream.end(request.stdin);
    await ended;
    const info = await exec.inspect();
    return {
      exitCode: info.Running ? null : info.ExitCode,
      stdout: stdout.bytes(),
      stderr: stderr.bytes(),
      stdoutTruncated: stdout.truncated,
    };
  }

  async kill(handle: InstanceHandle): Promise<void> {
    await this.docker.getContainer(handle.id).kill().catch(ignoreGone);
    await handle.exited;
  }

  async pause(handle: InstanceHandle): Promise<void> {
    await this.docker.getContainer(handle.id).pause();
  }

  async unpause(handle: InstanceHandle): Promise<void> {
    await this.docker.getContainer(handle.id).unpause();
  }

  async removeOrphans(): Promise<number> {
    const containers = await this.listContainers({ 'hearth.daemon': this.options.daemonId });
    await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true }).catch(ignoreGone)));
    await rm(this.options.runDir, { recursive: true, force: true });
    await mkdir(this.options.runDir, { recursive: true });
    return containers.length;
  }

  /** Containers carrying all the given labels (tests count instances with this). */
  async listContainers(labels: Readonly<Record<string, string>>): Promise<Docker.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({
        all: true,
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      });
    } catch (err) {
      throw engineError(err, this.options.socketPath);
    }
  }

  // ---- ImageEngine (see builder/image-engine.ts) ----

  async imageExists(ref: string): Promise<boolean> {
    return (await this.imageId(ref)) !== undefined;
  }

  async imageId(ref: string): Promise<string | undefined> {
    try {
      return (await this.docker.getImage(ref).inspect()).Id;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw engineError(err, this.options.socketPath);
    }
  }

  async buildImage(
    context: Buffer,
    options: { tag: string; labels: Readonly<Record<string, string>>; network: boolean; noCache: boolean },
  ): Promise<{ log: string; error?: string }> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.buildImage(Readable.from([context]), {
        t: options.tag,
        labels: options.labels,
        networkmode: options.network ? 'bridge' : 'none',
        nocache: options.noCache,
        rm: true,
        forcerm: true,
        pull: false,
      } as Docker.ImageBuildOptions);
    } catch (err) {
      throw engineError(err, this.options.socketPath);
    }
    const events = await this.follow(stream);
    const log = events.map((e) => e.stream ?? '').join('');
    const failed = events.find((e) => e.error !== undefined);
    return failed?.error !== undefined ? { log, error: failed.error } : { log };
  }

  async importImage(tarPath: string, ref: string, changes: readonly string[]): Promise<void> {
    const [repo, tag] = splitRef(ref);
    const stream = await this.docker.importImage(createReadStream(tarPath) as unknown as string, { repo, tag, changes });
    const events = await this.follow(stream);
    const failed = events.find((e) => e.error !== undefined);
    if (failed?.error !== undefined) throw new Error(`docker import failed: ${failed.error}`);
  }

  private follow(stream: NodeJS.ReadableStream): Promise<{ stream?: string; error?: string }[]> {
    return new Promise((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null, events: { stream?: string; error?: string }[]) =>
        err ? reject(err) : resolve(events),
      );
    });
  }

  /** Resolves once the container stops; collects exit code, OOM flag and last logs, then removes it. */
  private async watchExit(container: Docker.Container, dir: string): Promise<ExitInfo> {
    let exit: ExitInfo = { exitCode: null, oomKilled: false, logs: '' };
    try {
      const waited = (await container.wait()) as { StatusCode?: number };
      const info = await container.inspect();
      const raw = (await container.logs({ stdout: true, stderr: true, tail: LOG_TAIL_LINES, follow: false })) as unknown as Buffer;
      exit = { exitCode: waited.StatusCode ?? info.State.ExitCode, oomKilled: info.State.OOMKilled, logs: demux(raw) };
    } catch (err) {
      this.options.log.debug({ err, container: container.id.slice(0, 12) }, 'could not read exit details');
    }
    await container.remove({ force: true }).catch(ignoreGone);
    await rm(dir, { recursive: true, force: true });
    return exit;
  }
}

/** Collects one output stream up to a size: its first bytes (a result) or its last (logs). */
class CappedOutput extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(
    private readonly max: number,
    private readonly keep: 'head' | 'tail',
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max) {
      this.truncated = true;
      if (this.keep === 'head') {
        const last = this.chunks.pop() as Buffer;
        this.size -= last.length;
      } else {
        const first = this.chunks.shift() as Buffer;
        this.size -= first.length;
      }
    }
    done();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Docker frames non-TTY logs: 8-byte header (stream, 0, 0, 0, uint32 size) per chunk. */
export function demux(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

function splitRef(ref: string): [string, string] {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}

function ignoreGone(err: { statusCode?: number }): void {
  // 404: already removed; 304: already stopped; 409: removal already in progress.
  if (err.statusCode === 404 || err.statusCode === 304 || err.statusCode === 409) return;
  throw err;
}

function engineError(err: unknown, socketPath: string): Error {
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET') {
    return new EngineUnavailableError(
      `no Docker engine answers at ${socketPath} (${code}): run scripts/ensure-docker.sh or set HEARTH_DOCKER_SOCKET`,
    );
  }
  return err as Error;
}
