import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many
 * ran. Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE modules (
     name       TEXT PRIMARY KEY,
     version    TEXT NOT NULL,
     image      TEXT NOT NULL,
     config     TEXT NOT NULL,
     functions  TEXT NOT NULL,
     package    BLOB NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE builds (
     tag        TEXT PRIMARY KEY,
     module     TEXT NOT NULL,
     functions  TEXT NOT NULL,
     created_at TEXT NOT NULL
   ) STRICT;`,
  // Async jobs. Times are epoch ms; result is the handler's JSON as returned.
  `CREATE TABLE jobs (
     id             TEXT PRIMARY KEY,
     module         TEXT NOT NULL,
     function       TEXT NOT NULL,
     status         TEXT NOT NULL,
     payload        TEXT NOT NULL,
     result         TEXT,
     error          TEXT,
     logs           TEXT,
     attempts       INTEGER NOT NULL DEFAULT 0,
     created_at     INTEGER NOT NULL,
     started_at     INTEGER,
     finished_at    INTEGER,
     duration_ms    REAL,
     queue_ms       INTEGER,
     cold_start     INTEGER,
     callback_url   TEXT,
     callback       TEXT
   ) STRICT;
   CREATE INDEX jobs_status ON jobs (status, id);
   CREATE INDEX jobs_module ON jobs (module, id);
   CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;`,
  // Workflows, their runs (with the definition they started with) and one row per node per run.
  `CREATE TABLE workflows (
     name       TEXT PRIMARY KEY,
     definition TEXT NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE workflow_runs (
     id          TEXT PRIMARY KEY,
     workflow    TEXT NOT NULL,
     definition  TEXT NOT NULL,
     mode        TEXT NOT NULL,
     status      TEXT NOT NULL,
     input       TEXT NOT NULL,
     output      TEXT,
     error       TEXT,
     attempts    INTEGER NOT NULL DEFAULT 0,
     created_at  INTEGER NOT NULL,
     started_at  INTEGER,
     finished_at INTEGER
   ) STRICT;
   CREATE INDEX workflow_runs_status ON workflow_runs (status, id);
   CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, id);
   CREATE INDEX workflow_runs_finished ON workflow_runs (finished_at) WHERE finished_at IS NOT NULL;
   CREATE TABLE workflow_steps (
     run_id      TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
     node        TEXT NOT NULL,
     function    TEXT NOT NULL,
     status      TEXT NOT NULL,
     input       TEXT,
     output      TEXT,
     error       TEXT,
     logs        TEXT NOT NULL,
     attempts    INTEGER NOT NULL,
     started_at  INTEGER,
     finished_at INTEGER,
     duration_ms REAL,
     cold_start  INTEGER,
     PRIMARY KEY (run_id, node)
   ) STRICT;`,
  // One row per call, whatever started it; ids are ULIDs, so they sort by time.
  `CREATE TABLE invocations (
     id          TEXT PRIMARY KEY,
     module      TEXT NOT NULL,
     function    TEXT NOT NULL,
     trigger     TEXT NOT NULL,
     status      TEXT NOT NULL,
     http_status INTEGER NOT NULL,
     duration_ms REAL,
     queue_ms    REAL,
     cold_start  INTEGER,
     instance    TEXT,
     started_at  INTEGER NOT NULL,
     ended_at    INTEGER NOT NULL,
     error       TEXT,
     logs        TEXT NOT NULL,
     source      TEXT
   ) STRICT;
   CREATE INDEX invocations_module ON invocations (module, id);
   CREATE INDEX invocations_ended ON invocations (ended_at);`,
  // Local object storage: the index of objects whose bytes are files named by id under <data>/buckets/<bucket>/.
  `CREATE TABLE buckets (
     name       TEXT PRIMARY KEY,
     created_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE objects (
     bucket       TEXT NOT NULL REFERENCES buckets (name),
     key          TEXT NOT NULL,
     size         INTEGER NOT NULL,
     content_type TEXT NOT NULL,
     sha256       TEXT NOT NULL,
     file         TEXT NOT NULL,
     created_at   INTEGER NOT NULL,
     PRIMARY KEY (bucket, key)
   ) STRICT;`,
  // What made a job: an async call, a cron tick, a file.
  `ALTER TABLE jobs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'async';`,
  // The object keys a file-triggered job stored in its output bucket (JSON array).
  `ALTER TABLE jobs ADD COLUMN outputs TEXT;`,
];

/** Opens (creating if needed) the database file in WAL mode and migrates it. */
export function openDatabase(file: string): Db {
  // Owner-only: function processes may traverse the data dir. SQLite gives the
  // -wal and -shm files the database file's mode.
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // With WAL, NORMAL loses no committed transaction on a process crash (only on power loss).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this hearth (${MIGRATIONS.length}): upgrade hearth`);
  }
  for (let version = current; version < MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
