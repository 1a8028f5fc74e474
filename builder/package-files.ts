import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { posix } from 'node:path';
import { unzipSync } from 'fflate';
import tar from 'tar-stream';
import { InvalidPackageError } from './errors.js';

/** A module's code as a set of files relative to the code root, plus its requirements. */
export interface ModulePackage {
  readonly module: string;
  readonly files: ReadonlyMap<string, Buffer>;
  readonly requirements: string | undefined;
}

/** What a deploy uploaded: Python source text, or one file (.py, .zip, .tar.gz, .tgz, .tar). */
export type PackageUpload =
  | { readonly kind: 'source'; readonly source: string }
  | { readonly kind: 'file'; readonly filename: string; readonly data: Buffer };

// Bounds on what an archive may expand to, so a zip bomb is refused, not extracted.
const MAX_FILES = 5000;
const MAX_TOTAL_BYTES = 200 * 1024 * 1024;

/** Turns an upload into a validated package; throws InvalidPackageError with a message a user can act on. */
export async function readPackage(module: string, upload: PackageUpload, requirements?: string): Promise<ModulePackage> {
  let files: Map<string, Buffer>;
  if (upload.kind === 'source') {
    files = new Map([[`${module}.py`, Buffer.from(upload.source, 'utf8')]]);
  } else {
    const name = upload.filename.toLowerCase();
    if (name.endsWith('.py')) files = new Map([[`${module}.py`, upload.data]]);
    else if (name.endsWith('.zip')) files = readZip(upload.data);
    else if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) files = await readTar(gunzip(upload.data));
    else if (name.endsWith('.tar')) files = await readTar(upload.data);
    else throw new InvalidPackageError(`unsupported upload ${JSON.stringify(upload.filename)}: expected a .py file or a .zip, .tar.gz or .tar package`);
    files = stripCommonRoot(files, module);
  }
  const fromArchive = files.get('requirements.txt');
  files.delete('requirements.txt');
  if (!files.has(`${module}.py`) && !files.has(`${module}/__init__.py`)) {
    throw new InvalidPackageError(`the package has neither ${module}.py nor ${module}/__init__.py at its root`);
  }
  const reqs = requirements ?? fromArchive?.toString('utf8');
  return { module, files, requirements: reqs !== undefined && reqs.trim() !== '' ? reqs : undefined };
}

function gunzip(data: Buffer): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: MAX_TOTAL_BYTES });
  } catch (err) {
    throw new InvalidPackageError(`the .tar.gz upload could not be decompressed: ${(err as Error).message}`);
  }
}

function readZip(data: Buffer): Map<string, Buffer> {
  let entries: Record<string, Uint8Array>;
  let total = 0;
  let count = 0;
  try {
    entries = unzipSync(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), {
      filter: (file) => {
        total += file.originalSize;
        count += 1;
        if (count > MAX_FILES || total > MAX_TOTAL_BYTES) throw new InvalidPackageError(tooBig());
        return !file.name.endsWith('/');
      },
    });
  } catch (err) {
    if (err instanceof InvalidPackageError) throw err;
    throw new InvalidPackageError(`the .zip upload could not be read: ${(err as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  for (const [name, bytes] of Object.entries(entries)) addFile(files, name, Buffer.from(bytes));
  return files;
}

async function readTar(data: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        total += chunk.length;
        if (total > MAX_TOTAL_BYTES) extract.destroy(new InvalidPackageError(tooBig()));
        else chunks.push(chunk);
      });
      stream.on('end', () => {
        try {
          // Links and devices are skipped: only regular files become part of the code.
          if (header.type === 'file') addFile(files, header.name, Buffer.concat(chunks));
          if (files.size > MAX_FILES) throw new InvalidPackageError(tooBig());
          next();
        } catch (err) {
          extract.destroy(err as Error);
        }
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', (err) =>
      reject(err instanceof InvalidPackageError ? err : new InvalidPackageError(`the tar upload could not be read: ${err.message}`)),
    );
  });
  Readable.from([data]).pipe(extract);
  await done;
  return files;
}

function tooBig(): string {
  return `the package expands to more than ${MAX_FILES} files or ${MAX_TOTAL_BYTES / 1024 / 1024} MiB`;
}

function addFile(files: Map<string, Buffer>, rawName: string, data: Buffer): void {
  const name = posix.normalize(rawName.replace(/\\/g, '/')).replace(/^\.\//, '');
  if (name.startsWith('/') || name === '..' || name.startsWith('../') || name.includes('\0')) {
    throw new InvalidPackageError(`unsafe path in package: ${JSON.stringify(rawName)}`);
  }
  // Bytecode caches and VCS metadata are rebuilt or useless inside the image.
  if (/(^|\/)(__pycache__|\.git)(\/|$)/.test(name) || name.endsWith('.pyc')) return;
  files.set(name, data);
}

/** Archives often wrap everything in one folder (`mymod-1.0/…`); use its content as the root. */
function stripCommonRoot(files: Map<string, Buffer>, module: string): Map<string, Buffer> {
  if (files.has(`${module}.py`) || files.has(`${module}/__init__.py`)) return files;
  const roots = new Set([...files.keys()].map((name) => name.split('/')[0]));
  const [root] = roots;
  if (roots.size !== 1 || root === undefined || [...files.keys()].some((name) => !name.includes('/'))) return files;
  return new Map([...files].map(([name, data]) => [name.slice(root.length + 1), data]));
}
