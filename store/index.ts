import { openDatabase, type Db } from './db.js';
import { BuildRepository } from './builds.js';
import { ModuleRepository } from './modules.js';

export type { Db } from './db.js';
export type { ModuleRow } from './modules.js';
export type { BuildRow } from './builds.js';
export { ModuleRepository, BuildRepository, openDatabase };

/** The database and its repositories, opened together. */
export interface Store {
  readonly db: Db;
  readonly modules: ModuleRepository;
  readonly builds: BuildRepository;
  close(): void;
}

export function openStore(file: string): Store {
  const db = openDatabase(file);
  return {
    db,
    modules: new ModuleRepository(db),
    builds: new BuildRepository(db),
    close: () => db.close(),
  };
}
