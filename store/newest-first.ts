import type { Db } from './db.js';

/**
 * One page of a table keyed by ULID (ids sort by time), newest first:
 * `equal` columns must match, `atLeast` columns must be >= their value,
 * and `before` is the previous page's last id. Column names are ours, never
 * user text; values are bound parameters.
 */
export function newestFirst<T>(
  db: Db,
  table: string,
  query: { equal?: Readonly<Record<string, unknown>>; atLeast?: Readonly<Record<string, unknown>>; before?: string; limit: number },
): T[] {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: query.limit };
  for (const [column, value] of Object.entries(query.equal ?? {})) {
    if (value === undefined) continue;
    where.push(`${column} = @${column}`);
    params[column] = value;
  }
  for (const [column, value] of Object.entries(query.atLeast ?? {})) {
    if (value === undefined) continue;
    where.push(`${column} >= @${column}`);
    params[column] = value;
  }
  if (query.before !== undefined) {
    where.push('id < @before');
    params.before = query.before;
  }
  const sql = `SELECT * FROM ${table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
  return db.prepare(sql).all(params) as T[];
}
