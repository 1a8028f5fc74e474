/**
 * How the pool starts and stops instances. Owned here, by its consumer; the
 * Docker driver (drivers/docker.ts) and the process driver (drivers/process.ts)
 * implement it, a fake does in unit tests.
 */
export interface InstanceSpec {
  readonly module: string;
  /** Content hash of the module's code: instances of another version are not reused. */
  readonly version: string;
  readonly image: string;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly pids: number;
  readonly network: boolean;
  readonly env: Readonly<Record<string, string>>;
  /**
   * A host folder every instance of the module may read and write, for
   * file-triggered calls (their input and output files). Where it appears
   * inside an instance: Driver.filesPath.
   */
  readonly filesDir?: string;
  /**
   * Image functions: the argv each function runs, once per call, inside an
   * instance of `image` (Driver.exec). Such an instance runs no runtime and
   * has no socket; without this field the image runs hearth's runtime.
   */
  readonly commands?: Readonly<Record<string, readonly string[]>>;
}

/** One process run inside an instance (an image function's call). */
export interface ExecRequest {
  readonly argv: readonly string[];
  readonly stdin: Buffer;
  /** Added to the instance's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** stdout beyond this is dropped (stdoutTruncated); stderr keeps its last this many bytes. */
  readonly maxOutputBytes: number;
}

export interface ExecResult {
  /** null when the engine could not say. */
  readonly exitCode: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly stdoutTruncated: boolean;
}

/** Why an instance stopped. */
export interface ExitInfo {
  readonly exitCode: number | null;
  /** The signal that ended it, when one did (the process driver reports it; Docker folds it into 128+n). */
  readonly signal?: string | null;
  readonly oomKilled: boolean;
  /** The last lines the instance printed (an import error, a crash message). */
  readonly logs: string;
}

export interface InstanceHandle {
  /** Driver-specific id (the container id). */
  readonly id: string;
  /**
   * The runtime's Unix socket (DESIGN.md section 3), or an image function's
   * supervisor's (runtimes/exec); empty when an image function's calls go
   * through Driver.exec instead.
   */
  readonly socketPath: string;
  /** Resolves once the instance has stopped, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
}

/** An instance as the driver sees it, independent of any pool (tests and /system/info count these). */
export interface DriverInstance {
  readonly id: string;
  readonly module: string;
  /** running, paused, or another engine state (created, exited) while it goes. */
  readonly state: string;
  /** The host pid leading the instance's process group (process driver only). */
  readonly pid?: number;
}

/** What the driver runs and which of DESIGN.md section 7's defaults it enforces (GET /system/info). */
export interface DriverInfo {
  readonly name: string;
  /** The engine or interpreter, with its version. */
  readonly runtime: string;
  readonly sandbox: string;
  readonly enforced: readonly string[];
  readonly notEnforced: readonly string[];
}

export interface Driver {
  readonly name: string;
  describe(): DriverInfo;
  /** Where an instance sees InstanceSpec.filesDir. */
  filesPath(filesDir: string): string;
  /** This daemon's instances, optionally of one module. */
  listInstances(module?: string): Promise<DriverInstance[]>;
  /** Creates and starts an instance; it is not healthy yet. */
  start(spec: InstanceSpec): Promise<InstanceHandle>;
  /** Asks the instance to stop (SIGTERM), kills it after `graceMs`, and removes it. */
  stop(handle: InstanceHandle, graceMs: number): Promise<void>;
  /**
   * Runs a process in a started instance of a spec with `commands` and
   * resolves when it exits. Drivers that cannot run image functions leave it
   * out (and refuse such specs in start).
   */
  exec?(handle: InstanceHandle, request: ExecRequest): Promise<ExecResult>;
  /** Kills and removes the instance at once. */
  kill(handle: InstanceHandle): Promise<void>;
  /** Freezes every process of the instance (cgroup freezer); it keeps its memory. */
  pause(handle: InstanceHandle): Promise<void>;
  /** Thaws a paused instance. */
  unpause(handle: InstanceHandle): Promise<void>;
  /** Removes every instance an earlier run of this daemon left behind; returns how many. */
  removeOrphans(): Promise<number>;
}
