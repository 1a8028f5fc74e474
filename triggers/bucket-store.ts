import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BucketNotEmptyError, BucketNotFoundError, ObjectNotFoundError, ObjectTooLargeError } from './errors.js';
import { checkBucket, checkKey, checkPrefix } from './object-keys.js';

/** What the store needs from the index (store/objects.ts provides it). */
export interface ObjectIndex {
  createBucket(name: string, now: Date): boolean;
  bucket(name: string): { name: string; createdAt: string } | undefined;
  buckets(): { name: string; createdAt: string; objects: number; bytes: number }[];
  deleteBucket(name: string): boolean;
  get(bucket: string, key: string): ObjectInfo | undefined;
  put(row: ObjectInfo, alongside?: () => void): string | undefined;
  delete(bucket: string, key: string): ObjectInfo | undefined;
  list(bucket: string, query: { prefix: string; after?: string; limit: number }): ObjectInfo[];
  files(bucket: string): Set<string>;
}

export interface ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly contentType: string;
  readonly sha256: string;
  readonly file: string;
  readonly createdAt: number;
}

const TEMP_PREFIX = '.upload-';

/**
 * Local object storage under `<root>/<bucket>/`: bytes in files named by a
 * random id, the key → file index in SQLite. An upload streams into a temp
 * file (hashed and counted on the way), is renamed into place, and becomes
 * visible when its index row is written, so a half-written upload is never
 * seen; a replaced object's old file is removed after the switch.
 */
export class BucketStore {
  constructor(
    private readonly root: string,
    private readonly index: ObjectIndex,
    private readonly now: () => number = Date.now,
  ) {}

  /** Removes what a crash left: temp uploads, and files no index row refers to. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const { name } of this.index.buckets()) {
      const dir = this.dir(name);
      const referenced = this.index.files(name);
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (referenced.has(entry)) continue;
        await rm(join(dir, entry), { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async createBucket(name: string): Promise<boolean> {
    checkBucket(name);
    await mkdir(this.dir(name), { recursive: true, mode: 0o700 });
    return this.index.createBucket(name, new Date(this.now()));
  }

  buckets(): ReturnType<ObjectIndex['buckets']> {
    return this.index.buckets();
  }

  async deleteBucket(name: string): Promise<void> {
    this.requireBucket(name);
    if (!this.index.deleteBucket(name)) throw new BucketNotEmptyError(name);
    await rm(this.dir(name), { recursive: true, force: true });
  }

  /** Streams `body` into the bucket under `key`; at most `maxBytes`, else ObjectTooLargeError and nothing stored. */
  /** `onIndexed` runs in the transaction that makes the object visible (to queue the jobs it triggers). */
  async put(
    bucket: string,
    key: string,
    body: Readable,
    options: { contentType: string; maxBytes: number; onIndexed?: (info: ObjectInfo) => void },
  ): Promise<ObjectInfo> {
    this.requireBucket(bucket);
    checkKey(key);
    const file = randomBytes(16).toString('hex');
    const temp = join(this.dir(bucket), `${TEMP_PREFIX}${file}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > options.maxBytes) return done(new ObjectTooLargeError(options.maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(temp, { mode: 0o600 }));
      await rename(temp, join(this.dir(bucket), file));
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    const info: ObjectInfo = { bucket, key, size, contentType: options.contentType, sha256: hash.digest('hex'), file, createdAt: this.now() };
    const onIndexed = options.onIndexed;
    const replaced = this.index.put(info, onIndexed === undefined ? undefined : () => onIndexed(info));
    if (replaced !== undefined) await unlink(join(this.dir(bucket), replaced)).catch(() => undefined);
    return info;
  }

  head(bucket: string, key: string): ObjectInfo {
    this.requireBucket(bucket);
    checkKey(key);
    const info = this.index.get(bucket, key);
    if (info === undefined) throw new ObjectNotFoundError(bucket, key);
    return info;
  }

  /** The object's bytes as a stream, with its description. */
  open(bucket: string, key: string): { info: ObjectInfo; stream: ReadStream } {
    const info = this.head(bucket, key);
    return { info, stream: createReadStream(this.path(info)) };
  }

  /** Where the object's bytes are on disk (for a function to read in place). */
  path(info: ObjectInfo): string {
    return join(this.dir(info.bucket), info.file);
  }

  async delete(bucket: string, key: string): Promise<void> {
    this.requireBucket(bucket);
    checkKey(key);
    const removed = this.index.delete(bucket, key);
    if (removed === undefined) throw new ObjectNotFoundError(bucket, key);
    await unlink(this.path(removed)).catch(() => undefined);
  }

  list(bucket: string, query: { prefix: string; after?: string; limit: number }): ObjectInfo[] {
    this.requireBucket(bucket);
    checkPrefix(query.prefix);
    return this.index.list(bucket, query);
  }

  private requireBucket(name: string): void {
    checkBucket(name);
    if (this.index.bucket(name) === undefined) throw new BucketNotFoundError(name);
  }

  private dir(bucket: string): string {
    return join(this.root, bucket);
  }
}
