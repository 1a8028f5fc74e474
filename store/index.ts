import { openDatabase, type Db } from './db.js';
import { BuildRepository } from './builds.js';
import { JobRepository } from './jobs.js';
import { InvocationRepository } from './invocations.js';
import { ModuleRepository } from './modules.js';
import { ObjectRepository } from './objects.js';
import { RunRepository, WorkflowRepository } from './workflows.js';

export type { Db } from './db.js';
export type { ModuleRow } from './modules.js';
export type { BuildRow } from './builds.js';
export type { JobRow, JobStatus, JobError, JobOutcome, NewJob, JobQuery, CallbackState } from './jobs.js';
export { TERMINAL } from './jobs.js';
export type { InvocationRow, InvocationQuery } from './invocations.js';
export type { ObjectRow, BucketRow } from './objects.js';
export type { WorkflowRow, RunRow, RunStatus, RunMode, RunErrorRecord, StepRow, NewRun, RunQuery } from './workflows.js';
export { ModuleRepository, BuildRepository, JobRepository, WorkflowRepository, RunRepository, InvocationRepository, ObjectRepository, openDatabase };

/** The database and its repositories, opened together. */
export interface Store {
  readonly db: Db;
  readonly modules: ModuleRepository;
  readonly builds: BuildRepository;
  readonly jobs: JobRepository;
  readonly workflows: WorkflowRepository;
  readonly runs: RunRepository;
  readonly invocations: InvocationRepository;
  readonly objects: ObjectRepository;
  close(): void;
}

export function openStore(file: string): Store {
  const db = openDatabase(file);
  return {
    db,
    modules: new ModuleRepository(db),
    builds: new BuildRepository(db),
    jobs: new JobRepository(db),
    workflows: new WorkflowRepository(db),
    runs: new RunRepository(db),
    invocations: new InvocationRepository(db),
    objects: new ObjectRepository(db),
    close: () => db.close(),
  };
}
