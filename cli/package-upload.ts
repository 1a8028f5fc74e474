import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { UsageError } from './config.js';

export interface Upload {
  readonly filename: string;
  readonly data: Uint8Array;
}

const ARCHIVES = ['.py', '.zip', '.tar.gz', '.tgz'];
// Not part of a module: caches and version-control or editor state.
const SKIPPED = new Set(['__pycache__', '.git', '.hg', '.svn', 'node_modules', '.venv', '.mypy_cache', '.pytest_cache']);

/** A .py file or an archive as it is; a directory zipped (caches and dot-directories left out). */
export async function readUpload(path: string): Promise<Upload> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new UsageError(`no such file or directory: ${path}`);
  }
  if (info.isDirectory()) {
    const files: Record<string, Uint8Array> = {};
    await collect(path, path, files);
    if (Object.keys(files).length === 0) throw new UsageError(`${path} holds no files`);
    return { filename: `${basename(path)}.zip`, data: zipSync(files) };
  }
  if (!ARCHIVES.some((ext) => path.endsWith(ext))) throw new UsageError(`${path}: expected a .py file, a .zip or .tar.gz, or a directory`);
  return { filename: basename(path), data: await readFile(path) };
}

async function collect(root: string, dir: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name) || (entry.isDirectory() && entry.name.startsWith('.'))) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await collect(root, full, files);
    else if (entry.isFile()) files[relative(root, full).split('\\').join('/')] = await readFile(full);
  }
}

/** The module name a path suggests: `orders.py`, `orders.zip` and `orders/` all give `orders`. */
export function nameFromPath(path: string): string {
  return basename(path.replace(/\/+$/, '')).replace(/\.(py|zip|tar\.gz|tgz)$/, '');
}

/** The multipart body of PUT /system/modules/:module. */
export function deployForm(upload: Upload, config: object | undefined, requirements: string | undefined): FormData {
  const form = new FormData();
  if (config !== undefined) form.append('config', JSON.stringify(config));
  if (requirements !== undefined) form.append('requirements', requirements);
  form.append('file', new Blob([Buffer.from(upload.data)]), upload.filename);
  return form;
}
