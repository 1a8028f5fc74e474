import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files baked into every Python function image, and a digest that changes when they do. */
export interface PythonRuntime {
  /** Source of hearth_runtime.py. */
  readonly source: Buffer;
  /** First 16 hex of its sha256: part of every image's content hash. */
  readonly digest: string;
  /** Where the file lives on disk (for the process driver and tests). */
  readonly path: string;
}

const RUNTIME_FILE = join('runtimes', 'python', 'hearth_runtime.py');
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
  const source = await readFile(path);
  return { source, path, digest: createHash('sha256').update(source).digest('hex').slice(0, 16) };
}
