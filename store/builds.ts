import type { Db } from './db.js';

/** What a finished image build found out, keyed by image tag (a content address). */
export interface BuildRow {
  readonly tag: string;
  readonly module: string;
  readonly functions: readonly string[];
  readonly createdAt: string;
}

export class BuildRepository {
  private readonly putStmt;
  private readonly getStmt;

  constructor(db: Db) {
    this.putStmt = db.prepare(
      'INSERT OR REPLACE INTO builds (tag, module, functions, created_at) VALUES (?, ?, ?, ?)',
    );
    this.getStmt = db.prepare('SELECT * FROM builds WHERE tag = ?');
  }

  put(row: BuildRow): void {
    this.putStmt.run(row.tag, row.module, JSON.stringify(row.functions), row.createdAt);
  }

  get(tag: string): BuildRow | undefined {
    const raw = this.getStmt.get(tag) as { tag: string; module: string; functions: string; created_at: string } | undefined;
    if (raw === undefined) return undefined;
    return { tag: raw.tag, module: raw.module, functions: JSON.parse(raw.functions) as string[], createdAt: raw.created_at };
  }
}
