import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { HearthClient } from '../client.js';
import { UsageError } from '../config.js';
import type { Context } from '../context.js';
import { table } from '../output.js';
import { integer } from './modules.js';

const TERMINAL = new Set(['succeeded', 'failed', 'timeout', 'cancelled']);
const POLL_MS = 250;

interface Job {
  id: string;
  module: string;
  function: string;
  status: string;
  result: unknown;
  error: { type: string; message: string; traceback?: string } | null;
  logs: string | null;
  createdAt: string;
  durationMs: number | null;
}

/** A job that ended without success: its error is the command's failure. */
export class JobFailedError extends Error {
  readonly code = 'JOB_FAILED';
}

/** The event from -d JSON (or @file, or - for stdin) or -F k=v fields. */
export async function readEvent(data: string | undefined, fields: readonly string[]): Promise<unknown> {
  if (data !== undefined && fields.length > 0) throw new UsageError('pass either -d JSON or -F k=v fields, not both');
  if (fields.length > 0) {
    return Object.fromEntries(
      fields.map((field) => {
        const at = field.indexOf('=');
        if (at <= 0) throw new UsageError(`-F expects key=value, got ${JSON.stringify(field)}`);
        return [field.slice(0, at), field.slice(at + 1)];
      }),
    );
  }
  if (data === undefined) return {};
  const text = data === '-' ? await readStdin() : data;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`-d is not valid JSON: ${(err as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** commander's accumulator for a repeatable option. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function splitTarget(target: string): { module: string; fn: string } {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(target);
  if (match === null) throw new UsageError(`expected MODULE.FN, got ${JSON.stringify(target)}`);
  return { module: match[1] as string, fn: match[2] as string };
}

/** Polls a job (or run) until it ends. */
export async function waitUntilEnded<T extends { status: string }>(client: HearthClient, path: string): Promise<T> {
  for (;;) {
    const { body } = await client.request<T>('GET', path);
    if (TERMINAL.has(body.status)) return body;
    await sleep(POLL_MS);
  }
}

/** invoke, jobs get|ls|cancel */
export function invokeCommands(program: Command, context: () => Context): void {
  program
    .command('invoke')
    .description('call a function: the result on stdout, its error and a non-zero exit on failure')
    .argument('<target>', 'MODULE.FN')
    .option('-d, --data <json>', 'the event as JSON (- reads stdin)')
    .option('-F, --field <key=value>', 'an event field (repeatable)', collect, [])
    .option('--async', 'submit as an async job and print its id')
    .option('--wait', 'with --async: wait for the job and print its result')
    .action(async (target: string, options: { data?: string; field: string[]; async?: boolean; wait?: boolean }) => {
      const { client, out } = context();
      const { module, fn } = splitTarget(target);
      const event = await readEvent(options.data, options.field);
      if (options.wait === true && options.async !== true) throw new UsageError('--wait goes with --async');
      if (options.async === true) {
        const { body } = await client.request<{ id: string; status: string }>('POST', `/async-function/${module}/${fn}`, { body: event });
        if (options.wait !== true) return out.result(body, () => body.id);
        out.note(`job ${body.id} submitted, waiting…`);
        const job = await waitUntilEnded<Job>(client, `/async/${body.id}`);
        if (job.status !== 'succeeded') throw new JobFailedError(`job ${job.id} ${job.status}: ${job.error?.message ?? ''}${job.error?.traceback ? `\n${job.error.traceback}` : ''}`);
        return out.result(out.json ? job : job.result, () => JSON.stringify(job.result, null, 2));
      }
      const { body, headers } = await client.request('POST', `/function/${module}/${fn}`, { body: event });
      out.note(`call ${headers.get('x-hearth-call-id') ?? '?'}: ${headers.get('x-hearth-duration-ms') ?? '?'} ms${headers.get('x-hearth-cold-start') === '1' ? ', cold start' : ''}`);
      out.result(body);
    });

  const jobs = program.command('jobs').description('async jobs');
  jobs
    .command('get')
    .argument('<id>')
    .description('one job: status, result or error, logs')
    .action(async (id: string) => {
      const { client, out } = context();
      const { body } = await client.request<Job>('GET', `/async/${encodeURIComponent(id)}`);
      out.result(body, () =>
        [
          `${body.id}  ${body.module}.${body.function}  ${body.status}${body.durationMs === null ? '' : `  ${body.durationMs} ms`}`,
          body.error === null ? `result: ${JSON.stringify(body.result)}` : `error: ${body.error.message}${body.error.traceback ? `\n${body.error.traceback}` : ''}`,
          body.logs ? `logs:\n${body.logs}` : '',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    });
  jobs
    .command('ls')
    .description('jobs, newest first')
    .option('--module <module>')
    .option('--status <status>')
    .option('--limit <n>', '1-500', integer('--limit'))
    .action(async (options: { module?: string; status?: string; limit?: number }) => {
      const { client, out } = context();
      const query = new URLSearchParams(Object.entries(options).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
      const { body } = await client.request<{ jobs: Job[] }>('GET', `/async${query.size > 0 ? `?${query}` : ''}`);
      out.result(body.jobs, () => table(['ID', 'FUNCTION', 'STATUS', 'CREATED', 'MS'], body.jobs.map((j) => [j.id, `${j.module}.${j.function}`, j.status, j.createdAt, j.durationMs])));
    });
  jobs
    .command('cancel')
    .argument('<id>')
    .description('cancel a queued job')
    .action(async (id: string) => {
      const { client, out } = context();
      const { body } = await client.request<Job>('DELETE', `/async/${encodeURIComponent(id)}`);
      out.result(body, () => `${id}: ${body.status}`);
    });
}
