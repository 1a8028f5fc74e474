import type { Db } from './db.js';

/** A deployed module as stored. `config` is the module's validated settings, kept opaque here. */
export interface ModuleRow {
  readonly name: string;
  readonly version: string;
  readonly image: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly functions: readonly string[];
  /** The uploaded package, to rebuild the image if it disappears. */
  readonly package: Buffer;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface RawRow {
  name: string;
  version: string;
  image: string;
  config: string;
  functions: string;
  package: Buffer;
  created_at: string;
  updated_at: string;
}

function fromRaw(raw: RawRow): ModuleRow {
  return {
    name: raw.name,
    version: raw.version,
    image: raw.image,
    config: JSON.parse(raw.config) as Record<string, unknown>,
    functions: JSON.parse(raw.functions) as string[],
    package: raw.package,
    createdAt: raw.created_at,
    updatedAt: raw.updated_at,
  };
}

/** The modules table. Statements are prepared once. */
export class ModuleRepository {
  private readonly upsertStmt;
  private readonly listStmt;
  private readonly deleteStmt;
  private readonly configStmt;

  constructor(db: Db) {
    this.upsertStmt = db.prepare(
      `INSERT INTO modules (name, version, image, config, functions, package, created_at, updated_at)
       VALUES (@name, @version, @image, @config, @functions, @package, @created_at, @updated_at)
       ON CONFLICT(name) DO UPDATE SET version = excluded.version, image = excluded.image, config = excluded.config,
         functions = excluded.functions, package = excluded.package, updated_at = excluded.updated_at`,
    );
    this.listStmt = db.prepare('SELECT * FROM modules ORDER BY name');
    this.deleteStmt = db.prepare('DELETE FROM modules WHERE name = ?');
    this.configStmt = db.prepare('UPDATE modules SET config = ?, updated_at = ? WHERE name = ?');
  }

  save(row: ModuleRow): void {
    this.upsertStmt.run({
      name: row.name,
      version: row.version,
      image: row.image,
      config: JSON.stringify(row.config),
      functions: JSON.stringify(row.functions),
      package: row.package,
      created_at: row.createdAt,
      updated_at: row.updatedAt,
    });
  }

  list(): ModuleRow[] {
    return (this.listStmt.all() as RawRow[]).map(fromRaw);
  }

  /** Changes only the settings (the package and image stay as they are); false when there is no such module. */
  updateConfig(name: string, config: Readonly<Record<string, unknown>>, updatedAt: string): boolean {
    return this.configStmt.run(JSON.stringify(config), updatedAt, name).changes > 0;
  }

  delete(name: string): boolean {
    return this.deleteStmt.run(name).changes > 0;
  }
}
