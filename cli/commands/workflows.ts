import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ServerError, type HearthClient } from '../client.js';
import { UsageError } from '../config.js';
import type { Context } from '../context.js';
import { table } from '../output.js';
import { readText } from './modules.js';
import { collect, JobFailedError, readEvent, waitUntilEnded } from './invoke.js';

interface Run {
  id: string;
  workflow: string;
  status: string;
  output: unknown;
  error: { type: string; message: string; step?: string } | null;
  steps?: { node: string; function: string; status: string; attempts: number; durationMs: number | null; coldStart: boolean | null }[];
}

const RUN_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The body and content type of a workflow file: YAML or JSON by its extension. */
export async function readWorkflowFile(path: string): Promise<{ text: string; contentType: string }> {
  const text = await readText(path);
  return { text, contentType: /\.ya?ml$/i.test(path) ? 'application/yaml' : 'application/json' };
}

/** The document's own `name`, if it has one (YAML parses JSON too). */
export function documentName(text: string, file: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file} is neither JSON nor YAML: ${(err as Error).message}`);
  }
  const name = (parsed as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

export function nameFromWorkflowPath(path: string): string {
  return (path.split('/').pop() as string).replace(/(\.workflow)?\.(json|ya?ml)$/i, '');
}

function runTable(run: Run): string {
  const steps = table(
    ['STEP', 'FUNCTION', 'STATUS', 'ATTEMPTS', 'MS', 'COLD'],
    (run.steps ?? []).map((s) => [s.node, s.function, s.status, s.attempts, s.durationMs, s.coldStart === null ? '-' : s.coldStart ? 'yes' : 'no']),
  );
  const result = run.status === 'succeeded' ? `output: ${JSON.stringify(run.output, null, 2)}` : `error: ${run.error?.message ?? run.status}`;
  return `run ${run.id} ${run.status}\n${steps}\n${result}`;
}

async function showRun(client: HearthClient, id: string): Promise<Run> {
  return (await client.request<Run>('GET', `/workflows/runs/${id}`)).body;
}

/** workflow deploy|run|get|ls|rm */
export function workflowCommands(program: Command, context: () => Context): void {
  const workflow = program.command('workflow').description('DAG workflows');
  workflow
    .command('deploy')
    .description('save a workflow from a JSON or YAML file')
    .argument('<file>')
    .option('--name <name>', 'workflow name (default: the document’s, else the file’s)')
    .action(async (file: string, options: { name?: string }) => {
      const { client, out } = context();
      const { text, contentType } = await readWorkflowFile(file);
      const name = options.name ?? documentName(text, file) ?? nameFromWorkflowPath(file);
      const { status, body } = await client.request<{ name: string; warnings: { at: string; message: string }[] }>('PUT', `/workflows/${encodeURIComponent(name)}`, {
        raw: { data: text, contentType },
      });
      for (const warning of body.warnings) out.note(`warning: ${warning.at}: ${warning.message}`);
      out.result(body, () => `${name}: ${status === 201 ? 'created' : 'updated'}`);
    });
  workflow
    .command('run')
    .description('run a workflow: its output and steps, a non-zero exit when it fails')
    .argument('<name>')
    .option('-d, --data <json>', 'the input as JSON (- reads stdin)')
    .option('-F, --field <key=value>', 'an input field (repeatable)', collect, [])
    .option('--async', 'start the run and print its id')
    .option('--wait', 'with --async: wait for the run to end')
    .action(async (name: string, options: { data?: string; field: string[]; async?: boolean; wait?: boolean }) => {
      const { client, out } = context();
      const input = await readEvent(options.data, options.field);
      if (options.wait === true && options.async !== true) throw new UsageError('--wait goes with --async');
      let run: Run;
      if (options.async === true) {
        const { body } = await client.request<{ id: string }>('POST', `/workflows/${encodeURIComponent(name)}/run?async=1`, { body: input });
        if (options.wait !== true) return out.result(body, () => body.id);
        out.note(`run ${body.id} started, waiting…`);
        await waitUntilEnded<Run>(client, `/workflows/runs/${body.id}`);
        run = await showRun(client, body.id);
      } else {
        const { status, body } = await client.request<Run | { error?: { code?: string; message?: string; run?: Run } }>('POST', `/workflows/${encodeURIComponent(name)}/run`, {
          body: input,
          accept: [500, 504],
        });
        const failedRun = status === 200 ? undefined : (body as { error?: { code?: string; message?: string; run?: Run } } | undefined)?.error;
        if (status !== 200 && failedRun?.run === undefined) {
          // A 500 that is not a failed run (an internal error): the server's answer as it is.
          throw new ServerError(status, failedRun?.code ?? `HTTP_${status}`, failedRun?.message ?? String(body), body);
        }
        run = status === 200 ? (body as Run) : (failedRun?.run as Run);
      }
      out.result(run, () => runTable(run));
      if (run.status !== 'succeeded') throw new JobFailedError(`run ${run.id} ${run.status}: ${run.error?.message ?? ''}`);
    });
  workflow
    .command('get')
    .description('a workflow (by name) or a run (by id)')
    .argument('<name-or-run-id>')
    .action(async (key: string) => {
      const { client, out } = context();
      if (RUN_ID.test(key)) {
        const run = await showRun(client, key);
        return out.result(run, () => runTable(run));
      }
      const { body } = await client.request<{ definition: unknown; warnings: { at: string; message: string }[] }>('GET', `/workflows/${encodeURIComponent(key)}`);
      for (const warning of body.warnings) out.note(`warning: ${warning.at}: ${warning.message}`);
      out.result(body, () => JSON.stringify(body.definition, null, 2));
    });
  workflow
    .command('ls')
    .description('workflows')
    .action(async () => {
      const { client, out } = context();
      const { body } = await client.request<{ workflows: { name: string; nodes: number; updatedAt: string }[] }>('GET', '/workflows');
      out.result(body.workflows, () => table(['NAME', 'NODES', 'UPDATED'], body.workflows.map((w) => [w.name, w.nodes, w.updatedAt])));
    });
  workflow
    .command('rm')
    .description('remove a workflow')
    .argument('<name>')
    .action(async (name: string) => {
      const { client, out } = context();
      await client.request('DELETE', `/workflows/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => `${name}: removed`);
    });
}
