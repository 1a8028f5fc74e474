import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files baked into every Python function image, and a digest that changes when they do. */
export interface PythonRuntime {
  /** The runtime's files by name, entry point first; they go side by side into one folder. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** First 16 hex of a sha256 over their names and contents: part of every image's content hash. */
  readonly digest: string;
  /** Where the entry point lives on disk. */
  readonly path: string;
}

/** The script every image and local build runs: `python3 hearth_runtime.py {compile|check|serve}`. */
export const RUNTIME_ENTRY = 'hearth_runtime.py';
// The modules it imports from its own folder.
const RUNTIME_MODULES = ['_hearth_call.py', '_hearth_http.py'];
const RUNTIME_FILE = join('runtimes', 'python', RUNTIME_ENTRY);
const EXEC_HELPER_SOURCE = join('runtimes', 'exec', 'hearth-exec.c');

/**
 * The runtime sits beside the TypeScript sources and beside the compiled
 * `dist/` tree alike, so walk up from this file to the folder that holds it.
 */
export function findRuntimeFile(from: string = dirname(fileURLToPath(import.meta.url)), file: string = RUNTIME_FILE): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find ${file} above ${from}`);
  }
}

/** The C source of hearth-exec, the supervisor of image functions' containers. */
export function findExecHelperSource(): string {
  return findRuntimeFile(undefined, EXEC_HELPER_SOURCE);
}

export async function loadPythonRuntime(path: string = findRuntimeFile()): Promise<PythonRuntime> {
  const files = new Map<string, Buffer>();
  const hash = createHash('sha256');
  for (const name of [RUNTIME_ENTRY, ...RUNTIME_MODULES]) {
    const source = await readFile(join(dirname(path), name));
    files.set(name, source);
    hash.update(`${name}\0${source.length}\0`).update(source);
  }
  return { files, path, digest: hash.digest('hex').slice(0, 16) };
}
