import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../config.js';
import { table } from '../output.js';
import { deployForm, nameFromPath, readUpload } from '../package-upload.js';
import type { Context } from '../context.js';
import { printObjects } from './buckets.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

interface ModuleView {
  name: string;
  version: string;
  functions: string[];
  config: Record<string, unknown>;
  updatedAt: string;
  built?: boolean;
  changed?: boolean;
  pool?: PoolView | null;
}
interface PoolView {
  module: string;
  byState: Record<string, number>;
  inFlight: number;
  queued: number;
  coldStarts: number;
  served: number;
}

export function integer(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${name} expects a whole number, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

/** deploy, ls, inspect, rm, scale, pools */
export function moduleCommands(program: Command, context: () => Context): void {
  program
    .command('deploy')
    .description('deploy a .py file, a .zip/.tar.gz package or a directory')
    .argument('<path>', 'file or directory')
    .option('--name <name>', 'module name (default: from the path)')
    .option('--requirements <file>', 'a requirements.txt to install')
    .option('--min-warm <n>', 'instances kept started', integer('--min-warm'))
    .option('--max <n>', 'maxInstances', integer('--max'))
    .option('--concurrency <n>', 'calls per instance at once', integer('--concurrency'))
    .option('--timeout <ms>', 'one call’s time limit, ms', integer('--timeout'))
    .option('--memory <mb>', 'memory limit per instance, MiB', integer('--memory'))
    .option('--network', 'give the function network access')
    .option('--params-in <where>', 'event (default) or context')
    .action(async (path: string, options: Record<string, unknown>) => {
      const { out } = context();
      const name = (options.name as string | undefined) ?? nameFromPath(path);
      if (!NAME.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a valid module name; pass --name`);
      const config = deployConfig(options);
      const requirements = options.requirements === undefined ? undefined : await readText(options.requirements as string);
      const { record } = await deploy(context(), name, path, config, requirements);
      out.result(record, () => `${name}: ${describeDeploy(record)}; functions: ${record.functions.join(', ')}`);
    });

  program
    .command('ls')
    .description('list modules; with BUCKET[/PREFIX], the objects of a bucket')
    .argument('[bucket]', 'BUCKET[/PREFIX]')
    .action(async (bucket: string | undefined) => {
      if (bucket !== undefined) return printObjects(context(), bucket);
      const { client, out } = context();
      const { body } = await client.request<{ modules: ModuleView[] }>('GET', '/system/modules');
      out.result(body.modules, () =>
        table(
          ['NAME', 'VERSION', 'FUNCTIONS', 'MIN', 'MAX', 'UPDATED'],
          body.modules.map((m) => [m.name, m.version, m.functions.join(','), m.config.minWarm, m.config.maxInstances, m.updatedAt]),
        ),
      );
    });

  program
    .command('inspect')
    .description('a module: settings, functions, pool and latency')
    .argument('<module>')
    .action(async (module: string) => {
      const { client, out } = context();
      const { body } = await client.request<ModuleView & { latency: { p50: number | null; p95: number | null; p99: number | null; calls: number } }>('GET', `/system/modules/${encodeURIComponent(module)}`);
      out.result(body, () => {
        const settings = Object.entries(body.config).map(([key, value]) => [key, JSON.stringify(value)]);
        const pool = body.pool;
        return [
          `${body.name} ${body.version}  functions: ${body.functions.join(', ')}`,
          '',
          table(['SETTING', 'VALUE'], settings),
          '',
          pool === null || pool === undefined ? 'no pool' : poolTable([pool]),
          '',
          `latency (last ${body.latency.calls} calls): p50 ${body.latency.p50 ?? '-'} ms, p95 ${body.latency.p95 ?? '-'} ms, p99 ${body.latency.p99 ?? '-'} ms`,
        ].join('\n');
      });
    });

  program
    .command('rm')
    .description('remove a module and its instances')
    .argument('<module>')
    .action(async (module: string) => {
      const { client, out } = context();
      await client.request('DELETE', `/system/modules/${encodeURIComponent(module)}`);
      out.result({ removed: module }, () => `${module}: removed`);
    });

  program
    .command('scale')
    .description("change a live module's pool settings")
    .argument('<module>')
    .option('--min <n>', 'minWarm', integer('--min'))
    .option('--max <n>', 'maxInstances', integer('--max'))
    .option('--concurrency <n>', 'concurrency', integer('--concurrency'))
    .option('--idle-timeout <ms>', 'idleTimeoutMs', integer('--idle-timeout'))
    .option('--pause-after <ms>', 'pauseAfterMs', integer('--pause-after'))
    .option('--timeout <ms>', 'timeoutMs', integer('--timeout'))
    .option('--max-queue <n>', 'maxQueue', integer('--max-queue'))
    .action(async (module: string, options: Record<string, number | undefined>) => {
      const { client, out } = context();
      const changes = Object.fromEntries(
        Object.entries({
          minWarm: options.min,
          maxInstances: options.max,
          concurrency: options.concurrency,
          idleTimeoutMs: options.idleTimeout,
          pauseAfterMs: options.pauseAfter,
          timeoutMs: options.timeout,
          maxQueue: options.maxQueue,
        }).filter(([, value]) => value !== undefined),
      );
      if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: pass --min, --max, --concurrency, --idle-timeout, --pause-after, --timeout or --max-queue');
      const { body } = await client.request<ModuleView>('POST', `/system/modules/${encodeURIComponent(module)}/scale`, { body: changes });
      out.result(body, () => `${module}: ${Object.entries(changes).map(([key, value]) => `${key}=${value}`).join(' ')}`);
    });

  program
    .command('pools')
    .description('every pool: instances by state, in-flight calls, queue')
    .action(async () => {
      const { client, out } = context();
      const { body } = await client.request<{ maxInstances: number; instances: number; pools: PoolView[] }>('GET', '/system/pools');
      out.result(body, () => `${poolTable(body.pools)}\n\ninstances: ${body.instances} of ${body.maxInstances}`);
    });
}

function poolTable(pools: readonly PoolView[]): string {
  return table(
    ['MODULE', 'STARTING', 'IDLE', 'BUSY', 'PAUSED', 'DRAINING', 'IN-FLIGHT', 'QUEUED', 'COLD-STARTS', 'SERVED'],
    pools.map((p) => [p.module, p.byState.starting ?? 0, p.byState.idle ?? 0, p.byState.busy ?? 0, p.byState.paused ?? 0, p.byState.draining ?? 0, p.inFlight, p.queued, p.coldStarts, p.served]),
  );
}

export function deployConfig(options: Record<string, unknown>): Record<string, unknown> | undefined {
  const config = Object.fromEntries(
    Object.entries({
      minWarm: options.minWarm,
      maxInstances: options.max,
      concurrency: options.concurrency,
      timeoutMs: options.timeout,
      memoryMb: options.memory,
      network: options.network === true ? true : undefined,
      paramsIn: options.paramsIn,
    }).filter(([, value]) => value !== undefined),
  );
  return Object.keys(config).length === 0 ? undefined : config;
}

/** PUT /system/modules/:name with the package; progress on stderr. */
export async function deploy(
  context: Context,
  name: string,
  path: string,
  config: object | undefined,
  requirements: string | undefined,
): Promise<{ record: ModuleView; created: boolean }> {
  const { client, out } = context;
  const upload = await readUpload(path);
  out.note(`${name}: uploading ${upload.filename} (${formatBytes(upload.data.length)}), building…`);
  const started = performance.now();
  const ticker = setInterval(() => out.note(`${name}: still building (${Math.round((performance.now() - started) / 1000)} s)…`), 10_000);
  try {
    const { status, body } = await client.request<ModuleView>('PUT', `/system/modules/${encodeURIComponent(name)}`, { raw: { data: deployForm(upload, config, requirements) } });
    out.note(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { record: body, created: status === 201 };
  } finally {
    clearInterval(ticker);
  }
}

export function describeDeploy(record: ModuleView): string {
  if (record.changed === false) return `unchanged (version ${record.version})`;
  return `deployed version ${record.version}${record.built === true ? ' (built)' : ' (image reused)'}`;
}

export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
