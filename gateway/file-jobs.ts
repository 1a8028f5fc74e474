import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import type { InvokeOutcome } from '../pool/index.js';
import type { JobRepository, JobRow, NewJob } from '../store/index.js';
import { matches, outputKey, type BucketStore, type ObjectInfo } from '../triggers/index.js';
import { ModuleNotFoundError, UnknownFunctionError } from './errors.js';
import { idGenerator } from './ids.js';
import { buildPayload } from './invocation-payload.js';
import type { Invoker } from './invoker.js';
import type { ModuleRegistry } from './module-registry.js';

export interface FileJobsDeps {
  readonly registry: ModuleRegistry;
  readonly buckets: BucketStore;
  readonly jobs: JobRepository;
  readonly invoker: Invoker;
  /** Where an instance sees a module's files folder (the driver decides). */
  readonly filesPath: (filesDir: string) => string;
  readonly maxObjectBytes: number;
}

// Outputs have no Content-Type of their own: a guess from the name for the common ones.
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.mp4': 'video/mp4',
};

/** What a file job stores as its payload: the event and where outputs go. */
interface FileJobSpec {
  readonly event: { readonly bucket: string; readonly key: string; readonly size: number; readonly contentType: string };
  readonly output: string;
}

/**
 * File triggers (the SCAR model): an upload that matches a module's trigger
 * becomes an async job, committed in the same transaction that makes the
 * object visible, so no upload is ever left without its job. Running the job
 * hard-links the input into the module's files folder (read-only), gives the
 * call an empty output folder, and, when the call succeeds, stores each file
 * it wrote in the output bucket under the input key's folder. A failed call
 * stores nothing.
 */
export class FileJobs {
  private readonly newId = idGenerator();

  constructor(private readonly deps: FileJobsDeps) {}

  /**
   * The jobs an object's matching triggers make (of one module, when named),
   * inserted as queued: inside an upload's transaction, or for an object
   * already stored (a batch run over a bucket).
   */
  jobsFor(info: ObjectInfo, module?: string): NewJob[] {
    const jobs: NewJob[] = [];
    const records = module === undefined ? this.deps.registry.list() : [this.deps.registry.get(module) ?? throwNotFound(module)];
    for (const record of records) {
      for (const trigger of record.config.triggers) {
        if (trigger.type !== 'file' || !matches(trigger, info.bucket, info.key)) continue;
        const spec: FileJobSpec = { event: { bucket: info.bucket, key: info.key, size: info.size, contentType: info.contentType }, output: trigger.output };
        jobs.push({ id: this.newId(), module: record.name, function: trigger.function, payload: JSON.stringify(spec), createdAt: Date.now(), callbackUrl: null, trigger: 'file' });
      }
    }
    if (jobs.length > 0) this.deps.jobs.addAll(jobs);
    return jobs;
  }

  async run(job: JobRow): Promise<InvokeOutcome & { outputs?: readonly string[] }> {
    const entry = this.deps.registry.lookup(job.module);
    if (entry === undefined) throw new ModuleNotFoundError(job.module);
    if (!entry.functions.has(job.function)) throw new UnknownFunctionError(job.module, job.function, { functions: entry.record.functions });
    const filesDir = this.deps.registry.filesDir(entry.record);
    if (filesDir === undefined) throw Object.assign(new Error(`module ${job.module} no longer has file triggers`), { code: 'TRIGGER_REMOVED' });
    const spec = JSON.parse(job.payload) as FileJobSpec;
    // Throws OBJECT_NOT_FOUND when the input was deleted before its turn came.
    const input = this.deps.buckets.head(spec.event.bucket, spec.event.key);
    const callName = `${job.id}-${job.attempts}`;
    const callDir = join(filesDir, callName);
    const inDir = join(callDir, 'in');
    const outDir = join(callDir, 'out');
    const fileName = posix.basename(input.key);
    try {
      await mkdir(inDir, { recursive: true });
      await mkdir(outDir);
      // Traversable, not listable; the output folder is the one place the call may write.
      await chmod(callDir, 0o711);
      await chmod(inDir, 0o711);
      await chmod(outDir, 0o777);
      const staged = join(inDir, fileName);
      // Same file system: a hard link, no copy. Its mode is the object file's, made read-only for all.
      await link(this.deps.buckets.path(input), staged).catch(() => copyFile(this.deps.buckets.path(input), staged));
      await chmod(staged, 0o444);
      const inside = posix.join(this.deps.filesPath(filesDir), callName);
      const payload = buildPayload(entry.record, job.function, {
        eventJson: JSON.stringify(spec.event),
        trigger: 'file',
        requestId: job.id,
        extra: { input_file_path: posix.join(inside, 'in', fileName), tmp_output_dir: posix.join(inside, 'out') },
      });
      const outcome = await this.deps.invoker.invoke(job.module, job.function, payload, { trigger: 'file', source: `job:${job.id}` });
      if (!outcome.reply.ok) return outcome;
      return { ...outcome, outputs: await this.storeOutputs(outDir, input.key, spec.output) };
    } finally {
      await rm(callDir, { recursive: true, force: true });
    }
  }

  /** Every file under `outDir`, stored in `bucket` beside the input's key; all names are checked before any is stored. */
  private async storeOutputs(outDir: string, inputKey: string, bucket: string): Promise<string[]> {
    const files = (await readdir(outDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    const planned = files.map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, key: outputKey(inputKey, relative(outDir, path).split('\\').join('/')) };
    });
    await this.deps.buckets.createBucket(bucket);
    const stored: string[] = [];
    for (const { path, key } of planned) {
      const contentType = CONTENT_TYPES[posix.extname(key).toLowerCase()] ?? 'application/octet-stream';
      const file = await openOutput(outDir, path);
      try {
        await this.deps.buckets.put(bucket, key, file.createReadStream({ autoClose: false }), { contentType, maxBytes: this.deps.maxObjectBytes });
      } finally {
        await file.close();
      }
      stored.push(`${bucket}/${key}`);
    }
    return stored;
  }
}

/**
 * Opens an output file without following links: the folder is writable by the
 * function (and, in a container, a link would be resolved on the host), so a
 * file swapped for a symlink, or a folder on its way swapped for one, must not
 * make the daemon read something else. Every folder from `outDir` down is
 * checked to be a real folder, and the file is opened O_NOFOLLOW and checked
 * to be a regular file through its descriptor.
 */
async function openOutput(outDir: string, path: string): Promise<FileHandle> {
  const parts = relative(outDir, path).split(sep);
  let dir = outDir;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    if (!(await lstat(dir)).isDirectory()) throw Object.assign(new Error(`output ${relative(outDir, path)}: ${part} is not a folder`), { code: 'BAD_OUTPUT' });
  }
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  if (!(await file.stat()).isFile()) {
    await file.close();
    throw Object.assign(new Error(`output ${relative(outDir, path)} is not a regular file`), { code: 'BAD_OUTPUT' });
  }
  return file;
}

function throwNotFound(module: string): never {
  throw new ModuleNotFoundError(module);
}
