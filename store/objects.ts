import type { Db } from './db.js';

/** An object as indexed: where its bytes are (a file named by id, never by key) and what they are. */
export interface ObjectRow {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly contentType: string;
  readonly sha256: string;
  /** The file's name inside the bucket's directory. */
  readonly file: string;
  readonly createdAt: number;
}

export interface BucketRow {
  readonly name: string;
  readonly createdAt: string;
}

interface RawObject {
  bucket: string;
  key: string;
  size: number;
  content_type: string;
  sha256: string;
  file: string;
  created_at: number;
}

const fromRaw = (raw: RawObject): ObjectRow => ({
  bucket: raw.bucket,
  key: raw.key,
  size: raw.size,
  contentType: raw.content_type,
  sha256: raw.sha256,
  file: raw.file,
  createdAt: raw.created_at,
});

/** Buckets and the index of their objects. An object is visible once its row exists. */
export class ObjectRepository {
  private readonly getStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare('SELECT * FROM objects WHERE bucket = ? AND key = ?');
    this.upsertStmt = db.prepare(
      `INSERT INTO objects (bucket, key, size, content_type, sha256, file, created_at)
       VALUES (@bucket, @key, @size, @contentType, @sha256, @file, @createdAt)
       ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, content_type = excluded.content_type,
         sha256 = excluded.sha256, file = excluded.file, created_at = excluded.created_at`,
    );
    this.deleteStmt = db.prepare('DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING *');
  }

  createBucket(name: string, now: Date): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)').run(name, now.toISOString()).changes > 0;
  }

  bucket(name: string): BucketRow | undefined {
    const raw = this.db.prepare('SELECT name, created_at FROM buckets WHERE name = ?').get(name) as { name: string; created_at: string } | undefined;
    return raw === undefined ? undefined : { name: raw.name, createdAt: raw.created_at };
  }

  buckets(): (BucketRow & { objects: number; bytes: number })[] {
    const rows = this.db
      .prepare(
        `SELECT b.name, b.created_at, COUNT(o.key) AS objects, COALESCE(SUM(o.size), 0) AS bytes
         FROM buckets b LEFT JOIN objects o ON o.bucket = b.name GROUP BY b.name ORDER BY b.name`,
      )
      .all() as { name: string; created_at: string; objects: number; bytes: number }[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, objects: r.objects, bytes: r.bytes }));
  }

  /** Removes an empty bucket; false when it still holds objects. */
  deleteBucket(name: string): boolean {
    const count = (this.db.prepare('SELECT COUNT(*) AS n FROM objects WHERE bucket = ?').get(name) as { n: number }).n;
    if (count > 0) return false;
    this.db.prepare('DELETE FROM buckets WHERE name = ?').run(name);
    return true;
  }

  get(bucket: string, key: string): ObjectRow | undefined {
    const raw = this.getStmt.get(bucket, key) as RawObject | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  /**
   * Makes the object visible (or replaces it); returns the file of the object it
   * replaced, if any. `alongside` runs in the same transaction (jobs the upload
   * triggers): both happen, or neither.
   */
  put(row: ObjectRow, alongside?: () => void): string | undefined {
    return this.db.transaction(() => {
      const previous = this.getStmt.get(row.bucket, row.key) as RawObject | undefined;
      this.upsertStmt.run(row);
      alongside?.();
      return previous?.file;
    })();
  }

  delete(bucket: string, key: string): ObjectRow | undefined {
    const raw = this.deleteStmt.get(bucket, key) as RawObject | undefined;
    return raw === undefined ? undefined : fromRaw(raw);
  }

  /** Keys in byte order, from after `after`, starting with `prefix`. */
  list(bucket: string, query: { prefix: string; after?: string; limit: number }): ObjectRow[] {
    // A range on the primary key rather than LIKE: keys may hold % and _.
    const upper = query.prefix === '' ? undefined : `${query.prefix}\u{10FFFF}`;
    const where = ['bucket = @bucket', 'key >= @prefix'];
    if (upper !== undefined) where.push('key < @upper');
    if (query.after !== undefined) where.push('key > @after');
    const sql = `SELECT * FROM objects WHERE ${where.join(' AND ')} ORDER BY key LIMIT @limit`;
    return (this.db.prepare(sql).all({ bucket, prefix: query.prefix, upper, after: query.after, limit: query.limit }) as RawObject[]).map(fromRaw);
  }

  /** Every file the index refers to in a bucket (to sweep what a crash left). */
  files(bucket: string): Set<string> {
    return new Set((this.db.prepare('SELECT file FROM objects WHERE bucket = ?').all(bucket) as { file: string }[]).map((r) => r.file));
  }
}
