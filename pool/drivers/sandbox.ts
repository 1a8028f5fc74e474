/**
 * How the process driver runs Python: inside bubblewrap when the host has it
 * (own mount, PID, IPC, UTS and network namespaces, a read-only view of the
 * system and of the code), or as a plain process when it does not. Pure: it
 * only turns a run into a command line.
 */

/** The interpreter every build and instance uses. */
export interface HostPython {
  /** Absolute path of the real executable (not a shim). */
  readonly executable: string;
  readonly version: string;
  /** sys.base_prefix: the installation the sandbox must see. */
  readonly prefix: string;
}

export interface Bubblewrap {
  readonly path: string;
  readonly version: string;
}

export interface SandboxRun {
  /** Arguments after the interpreter. */
  readonly args: readonly string[];
  /** Host paths the process sees read-only, at the same path. */
  readonly readOnly: readonly string[];
  /** Host paths the process may write, at the same path (after readOnly, so they may nest). */
  readonly writable: readonly string[];
  readonly network: boolean;
  /** The process's whole environment. */
  readonly env: Readonly<Record<string, string>>;
}

export interface Command {
  readonly file: string;
  readonly args: string[];
  /** The environment to spawn `file` with. */
  readonly env: Record<string, string>;
}

// The system the interpreter needs, read-only; everything else of the host stays out of view.
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64'];
const ETC_ENTRIES = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'gai.conf',
  'group',
  'host.conf',
  'hosts',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'passwd',
  'resolv.conf',
  'ssl',
];

export function sandboxCommand(python: HostPython, bwrap: Bubblewrap | undefined, run: SandboxRun): Command {
  if (bwrap === undefined) return { file: python.executable, args: [...run.args], env: { ...run.env } };
  const args = ['--unshare-all', ...(run.network ? ['--share-net'] : []), '--die-with-parent'];
  for (const dir of SYSTEM_DIRS) args.push('--ro-bind-try', dir, dir);
  for (const entry of ETC_ENTRIES) args.push('--ro-bind-try', `/etc/${entry}`, `/etc/${entry}`);
  // Debian's python3.X reads /etc/python3.X (sitecustomize); pyenv-style installs live outside /usr.
  const minor = /^(\d+\.\d+)/.exec(python.version)?.[1];
  if (minor !== undefined) args.push('--ro-bind-try', `/etc/python${minor}`, `/etc/python${minor}`);
  if (!isUnder(python.prefix, '/usr')) args.push('--ro-bind', python.prefix, python.prefix);
  // The private /tmp first: a data dir under the host's /tmp is bound on top of it.
  args.push('--tmpfs', '/tmp', '--proc', '/proc', '--dev', '/dev');
  for (const path of run.readOnly) args.push('--ro-bind', path, path);
  for (const path of run.writable) args.push('--bind', path, path);
  // The module's variables are set inside the sandbox only: LD_PRELOAD and the like must never reach bwrap itself.
  args.push('--clearenv');
  for (const [name, value] of Object.entries(run.env)) args.push('--setenv', name, value);
  args.push('--chdir', '/tmp', '--', python.executable, ...run.args);
  return { file: bwrap.path, args, env: {} };
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}
