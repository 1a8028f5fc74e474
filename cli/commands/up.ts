import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../config.js';
import type { Context } from '../context.js';
import { table } from '../output.js';
import { deploy, readText } from './modules.js';

/**
 * A stack file (hearth.yaml):
 *
 *   modules:
 *     orders:
 *       path: ./orders.py          # a .py, .zip/.tar.gz, or a directory
 *       requirements: ./requirements.txt
 *       config: {minWarm: 1, maxInstances: 4}
 *   workflows:
 *     checkout: ./checkout.yaml    # a file, or the document inline
 *
 * Paths are relative to the stack file. The stack is declarative: a module
 * without `config` gets the defaults, not whatever it had before.
 */
interface Stack {
  readonly modules: Record<string, { path: string; requirements?: string; config?: Record<string, unknown> }>;
  readonly workflows: Record<string, string | Record<string, unknown>>;
}

interface Change {
  readonly kind: 'module' | 'workflow';
  readonly name: string;
  readonly change: 'created' | 'updated' | 'unchanged';
  readonly detail: string;
}

export function parseStack(text: string, file: string): Stack {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  const doc = (raw ?? {}) as { modules?: unknown; workflows?: unknown };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: expected a mapping with modules and workflows`);
  for (const key of Object.keys(doc)) if (key !== 'modules' && key !== 'workflows') throw new UsageError(`${file}: unknown section ${key} (modules, workflows)`);
  const modules = (doc.modules ?? {}) as Stack['modules'];
  for (const [name, module] of Object.entries(modules)) {
    if (typeof module?.path !== 'string') throw new UsageError(`${file}: modules.${name}.path must name a file or directory`);
    for (const key of Object.keys(module)) {
      if (!['path', 'requirements', 'config'].includes(key)) throw new UsageError(`${file}: modules.${name}.${key} is not a module field (path, requirements, config)`);
    }
  }
  return { modules, workflows: (doc.workflows ?? {}) as Stack['workflows'] };
}

/** up -f hearth.yaml */
export function upCommand(program: Command, context: () => Context): void {
  program
    .command('up')
    .description('deploy a stack file (modules and workflows) and report what changed')
    .requiredOption('-f, --file <file>', 'the stack file', 'hearth.yaml')
    .action(async (options: { file: string }) => {
      const ctx = context();
      const { client, out } = ctx;
      const stack = parseStack(await readText(options.file), options.file);
      const base = dirname(resolve(options.file));
      const at = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
      const changes: Change[] = [];
      // Modules first: workflows name their functions.
      for (const [name, module] of Object.entries(stack.modules)) {
        const requirements = module.requirements === undefined ? undefined : await readText(at(module.requirements));
        const { record, created } = await deploy(ctx, name, at(module.path), module.config ?? {}, requirements);
        const change: Change['change'] = created ? 'created' : record.changed === false ? 'unchanged' : 'updated';
        changes.push({ kind: 'module', name, change, detail: `version ${record.version}${record.built === true ? ', built' : ''}` });
      }
      for (const [name, source] of Object.entries(stack.workflows)) {
        const definition = typeof source === 'string' ? parseWorkflowFile(await readText(at(source)), source) : source;
        const doc = { ...(definition as Record<string, unknown>), name };
        const current = await client.request<{ definition: unknown }>('GET', `/workflows/${encodeURIComponent(name)}`, { accept: [404] });
        if (current.status === 200 && canonical(current.body.definition) === canonical(doc)) {
          changes.push({ kind: 'workflow', name, change: 'unchanged', detail: '' });
          continue;
        }
        const { status, body } = await client.request<{ warnings: { at: string; message: string }[] }>('PUT', `/workflows/${encodeURIComponent(name)}`, { body: doc });
        for (const warning of body.warnings) out.note(`warning: workflow ${name}: ${warning.at}: ${warning.message}`);
        changes.push({ kind: 'workflow', name, change: status === 201 ? 'created' : 'updated', detail: `${body.warnings.length} warnings` });
      }
      const changed = changes.filter((c) => c.change !== 'unchanged').length;
      out.result({ changes, changed }, () => `${table(['KIND', 'NAME', 'CHANGE', 'DETAIL'], changes.map((c) => [c.kind, c.name, c.change, c.detail]))}\n\n${changed === 0 ? 'no changes' : `${changed} changed`}`);
    });
}

function parseWorkflowFile(text: string, file: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new UsageError(`${file} is neither JSON nor YAML: ${(err as Error).message}`);
  }
}

/** JSON with object keys sorted: equal documents give equal text whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
