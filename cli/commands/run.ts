import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { ServerError, type HearthClient } from '../client.js';
import type { Context } from '../context.js';
import { listObjects, objectPath, splitObject } from './buckets.js';
import { JobFailedError, waitUntilEnded } from './invoke.js';
import { integer } from './modules.js';

const TERMINAL = new Set(['succeeded', 'failed', 'timeout', 'cancelled']);
const POLL_MS = 500;
const PROGRESS_MS = 1000;

interface JobView {
  id: string;
  status: string;
  error: { message: string } | null;
  outputs?: string[];
}

interface ModuleView {
  config: { triggers: { type: string; bucket?: string }[] };
}

/** One submission: the object's jobs, or why it was skipped (no trigger matches it). */
async function submit(client: HearthClient, module: string, bucket: string, key: string): Promise<string[] | undefined> {
  try {
    const { body } = await client.request<{ jobs: { id: string }[] }>('POST', `${objectPath(bucket, key)}?module=${encodeURIComponent(module)}`);
    return body.jobs.map((job) => job.id);
  } catch (err) {
    // 400: the object does not match the trigger's prefix or suffix.
    if (err instanceof ServerError && err.status === 400) return undefined;
    throw err;
  }
}

/** The module's jobs among `ids`, read page by page (newest first, so ours come first). */
async function statuses(client: HearthClient, module: string, ids: ReadonlySet<string>): Promise<Map<string, JobView>> {
  const seen = new Map<string, JobView>();
  let cursor: string | null = null;
  do {
    const query: URLSearchParams = new URLSearchParams({ module, limit: '500', ...(cursor === null ? {} : { cursor }) });
    const { body }: { body: { jobs: JobView[]; nextCursor: string | null } } = await client.request('GET', `/async?${query.toString()}`);
    for (const job of body.jobs) if (ids.has(job.id)) seen.set(job.id, job);
    cursor = body.nextCursor;
  } while (cursor !== null && seen.size < ids.size);
  return seen;
}

/** `hearth run MODULE --bucket in`: SCAR's batch run over objects already stored. */
export function runCommand(program: Command, context: () => Context): void {
  program
    .command('run')
    .description("process every object already in a bucket through the module's file trigger: the first synchronously (it warms the pool), the rest as async jobs, with progress")
    .argument('<module>')
    .requiredOption('--bucket <bucket>', 'the input bucket, BUCKET or BUCKET/PREFIX')
    .option('--parallel <n>', 'submissions in flight at once', integer('--parallel'), 8)
    .option('--no-wait', 'submit the jobs and return without waiting for them')
    .action(async (module: string, options: { bucket: string; parallel: number; wait: boolean }) => {
      const { client, out } = context();
      const started = performance.now();
      const { bucket, key: prefix } = splitObject(options.bucket, false);
      const { body: record } = await client.request<ModuleView>('GET', `/system/modules/${encodeURIComponent(module)}`);
      if (!record.config.triggers.some((trigger) => trigger.type === 'file' && trigger.bucket === bucket)) {
        throw new JobFailedError(`module ${module} has no file trigger on bucket ${bucket}`);
      }
      const objects = await listObjects(client, bucket, prefix);
      const keyOf = new Map<string, string>();
      let skipped = 0;
      const track = (key: string, ids: string[] | undefined): void => {
        if (ids === undefined) skipped += 1;
        else for (const id of ids) keyOf.set(id, key);
      };

      // The first object alone, waited for: its cold start is paid once, before the burst.
      const [first, ...rest] = objects;
      if (first !== undefined) {
        const ids = await submit(client, module, bucket, first.key);
        track(first.key, ids);
        for (const id of ids ?? []) {
          const job = await waitUntilEnded<JobView>(client, `/async/${id}`);
          out.note(`${first.key}: ${job.status} (first call, ${Math.round(performance.now() - started)} ms)`);
        }
      }
      let submitted = 0;
      let lastNote = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.max(1, options.parallel) }, async () => {
          while (next < rest.length) {
            const key = (rest[next++] as { key: string }).key;
            track(key, await submit(client, module, bucket, key));
            submitted += 1;
            if (performance.now() - lastNote > PROGRESS_MS) {
              lastNote = performance.now();
              out.note(`submitted ${submitted + 1}/${objects.length}`);
            }
          }
        }),
      );

      const ids = new Set(keyOf.keys());
      let jobs = new Map<string, JobView>();
      if (options.wait) {
        for (;;) {
          jobs = await statuses(client, module, ids);
          const ended = [...jobs.values()].filter((job) => TERMINAL.has(job.status));
          const failedSoFar = ended.filter((job) => job.status !== 'succeeded').length;
          if (ended.length === ids.size) break;
          if (performance.now() - lastNote > PROGRESS_MS) {
            lastNote = performance.now();
            out.note(`processed ${ended.length}/${ids.size}${failedSoFar > 0 ? `, ${failedSoFar} failed` : ''}`);
          }
          await sleep(POLL_MS);
        }
      }
      const all = [...jobs.values()];
      const succeeded = all.filter((job) => job.status === 'succeeded').length;
      const outputs = all.reduce((sum, job) => sum + (job.outputs?.length ?? 0), 0);
      const failed = all.filter((job) => job.status !== 'succeeded').map((job) => ({ id: job.id, key: keyOf.get(job.id), status: job.status, error: job.error?.message ?? null }));
      const summary = {
        module,
        bucket,
        prefix,
        objects: objects.length,
        skipped,
        jobs: ids.size,
        ...(options.wait
          ? { succeeded, failed, outputs }
          : { ids: [...ids] }),
        ms: Math.round(performance.now() - started),
      };
      out.result(summary, () =>
        options.wait
          ? `${module}: ${summary.jobs} jobs for ${objects.length} objects${skipped > 0 ? ` (${skipped} matched no trigger)` : ''}: ` +
            `${succeeded} succeeded, ${failed.length} failed, ${outputs} outputs in ${(summary.ms / 1000).toFixed(1)} s` +
            failed.slice(0, 10).map((f) => `\n  ${f.key}: ${f.status}${f.error === null ? '' : `: ${f.error}`}`).join('')
          : `${module}: ${summary.jobs} jobs submitted for ${objects.length} objects`,
      );
      if (failed.length > 0) throw new JobFailedError(`${failed.length} of ${summary.jobs} jobs did not succeed`);
    });
}
