/**
 * What a local build needs from the process driver: running python the way
 * instances run (same interpreter, same sandbox), as the build user. Owned here,
 * by its consumer; the process driver implements it and the daemon wires them.
 */
export interface LocalRunner {
  /** The interpreter, for the content address: another Python means another build. */
  readonly platform: string;
  /** Who build steps run as; the builder hands the build folder to this user. Undefined: the daemon's own user. */
  readonly buildUser: { readonly uid: number; readonly gid: number } | undefined;
  runPython(run: LocalRun): Promise<LocalRunResult>;
}

export interface LocalRun {
  readonly args: readonly string[];
  readonly readOnly: readonly string[];
  readonly writable: readonly string[];
  readonly network: boolean;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export interface LocalRunResult {
  readonly exitCode: number | null;
  readonly output: string;
  readonly timedOut: boolean;
}
