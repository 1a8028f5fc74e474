import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageCommand, PackageUpload } from '../../builder/index.js';
import type { PoolManager } from '../../pool/index.js';
import { InvalidRequestError, ModuleNotFoundError } from '../errors.js';
import { moduleConfigSchema, NAME_PATTERN, scaleSchema, type ModuleConfig } from '../module-config.js';
import type { LatencyWindow } from '../latency-window.js';
import type { DeployInput, ModuleRegistry } from '../module-registry.js';
import { describeSchemaErrors, type SchemaError } from '../validation-errors.js';

export interface ModuleRoutesDeps {
  readonly registry: ModuleRegistry;
  readonly pools: PoolManager;
  readonly maxUploadBytes: number;
  readonly latency: LatencyWindow;
}

const moduleParams = {
  type: 'object',
  required: ['module'],
  properties: { module: { type: 'string', pattern: NAME_PATTERN } },
} as const;

/** The JSON form of a deploy. The multipart form carries the same fields as parts. */
const jsonDeploySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['source'],
  properties: {
    source: { type: 'string', minLength: 1 },
    requirements: { type: 'string' },
    config: moduleConfigSchema,
  },
} as const;

const MAX_SCRIPT_BYTES = 64 * 1024;
const script = { type: 'string', minLength: 1, maxLength: MAX_SCRIPT_BYTES } as const;
const command = { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', maxLength: MAX_SCRIPT_BYTES } } as const;

/**
 * An image module (SCAR's model): a local image and, per function, a shell
 * script or a command. `script`/`command` at the top level define one
 * function named `handler`.
 */
const imageDeploySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    // A local reference or id: name[:tag][@digest], sha256:…
    image: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@-]*$' },
    script,
    command,
    functions: {
      type: 'object',
      minProperties: 1,
      maxProperties: 64,
      propertyNames: { pattern: NAME_PATTERN },
      additionalProperties: { type: 'object', additionalProperties: false, properties: { script, command } },
    },
    config: moduleConfigSchema,
  },
} as const;

/** The function an image module's top-level script or command defines. */
export const DEFAULT_IMAGE_FUNCTION = 'handler';

type Validator = ((value: unknown) => boolean) & { errors?: SchemaError[] | null };

/** Deploy, scale, list, inspect and remove modules; the pools overview. Registered inside the admin-token scope. */
export async function moduleRoutes(app: FastifyInstance, deps: ModuleRoutesDeps): Promise<void> {
  app.put<{ Params: { module: string } }>(
    '/system/modules/:module',
    { schema: { summary: 'Deploy or update a module: JSON {source, requirements, config}, multipart, or an image module {image, script | command | functions, config}', params: moduleParams, security: [{ bearer: [] }] }, bodyLimit: deps.maxUploadBytes },
    async (request, reply) => {
      const { module } = request.params;
      const input = request.isMultipart() ? await readMultipart(request) : readJson(request);
      const { record, built, created, changed } = await deps.registry.deploy(module, input);
      return reply.code(created ? 201 : 200).send({ ...record, built, changed });
    },
  );

  app.post<{ Params: { module: string }; Body: Partial<ModuleConfig> }>(
    '/system/modules/:module/scale',
    { schema: { summary: "Change a live module's pool settings", params: moduleParams, body: scaleSchema, security: [{ bearer: [] }] } },
    async (request) => {
      const record = await deps.registry.scale(request.params.module, request.body);
      return { ...record, pool: deps.pools.snapshot(record.name) ?? null };
    },
  );

  app.get('/system/pools', { schema: { summary: 'Every pool: instances by state, queue depth', security: [{ bearer: [] }] } }, async () =>
    deps.pools.overview(),
  );

  app.get('/system/modules', { schema: { summary: 'List modules', security: [{ bearer: [] }] } }, async () => ({
    modules: deps.registry.list(),
  }));

  app.get<{ Params: { module: string } }>(
    '/system/modules/:module',
    { schema: { summary: 'One module with its pool and its call latency (p50/p95/p99, ms) over the last minutes', params: moduleParams, security: [{ bearer: [] }] } },
    async (request) => {
      const record = deps.registry.get(request.params.module);
      if (record === undefined) throw new ModuleNotFoundError(request.params.module);
      return { ...record, pool: deps.pools.snapshot(record.name) ?? null, latency: deps.latency.percentiles(record.name) };
    },
  );

  app.delete<{ Params: { module: string } }>(
    '/system/modules/:module',
    { schema: { summary: 'Remove a module and its containers', params: moduleParams, security: [{ bearer: [] }] } },
    async (request, reply) => {
      await deps.registry.remove(request.params.module);
      deps.latency.forget(request.params.module);
      return reply.code(204).send();
    },
  );
}

function validate(request: FastifyRequest, schema: object, value: unknown, what: string): void {
  const check = request.compileValidationSchema(schema) as Validator;
  if (check(value)) return;
  throw new InvalidRequestError(describeSchemaErrors(check.errors ?? [], what));
}

function readJson(request: FastifyRequest): DeployInput {
  if (isObject(request.body) && 'image' in request.body) return readImageDeploy(request);
  validate(request, jsonDeploySchema, request.body, 'body');
  const body = request.body as { source: string; requirements?: string; config?: Partial<ModuleConfig> };
  return {
    upload: { kind: 'source', source: body.source },
    ...(body.requirements !== undefined ? { requirements: body.requirements } : {}),
    ...(body.config !== undefined ? { config: body.config } : {}),
  };
}

function readImageDeploy(request: FastifyRequest): DeployInput {
  validate(request, imageDeploySchema, request.body, 'body');
  const body = request.body as { image: string; script?: string; command?: string[]; functions?: Record<string, { script?: string; command?: string[] }>; config?: Partial<ModuleConfig> };
  const topLevel = body.script !== undefined || body.command !== undefined;
  if (topLevel === (body.functions !== undefined)) {
    throw new InvalidRequestError('an image module needs either script (or command) or functions: {name: {script | command}}, not both');
  }
  const given = body.functions ?? { [DEFAULT_IMAGE_FUNCTION]: { script: body.script, command: body.command } };
  const functions = Object.entries(given).map(([name, fn]): [string, ImageCommand] => {
    const where = body.functions === undefined ? 'body' : `body/functions/${name}`;
    if ((fn.script === undefined) === (fn.command === undefined)) throw new InvalidRequestError(`${where} needs exactly one of script and command`);
    return [name, fn.script !== undefined ? { script: fn.script } : { command: fn.command as string[] }];
  });
  return { image: { image: body.image, functions: Object.fromEntries(functions) }, ...(body.config !== undefined ? { config: body.config } : {}) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Multipart: one file part (.py, .zip, .tar.gz), optional `config` (JSON text) and `requirements` fields. */
async function readMultipart(request: FastifyRequest): Promise<DeployInput> {
  let upload: PackageUpload | undefined;
  let config: Partial<ModuleConfig> | undefined;
  let requirements: string | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (upload !== undefined) throw new InvalidRequestError('send exactly one file part');
      upload = { kind: 'file', filename: part.filename, data: await part.toBuffer() };
    } else if (part.fieldname === 'config') {
      try {
        config = JSON.parse(String(part.value)) as Partial<ModuleConfig>;
      } catch {
        throw new InvalidRequestError('the config part is not valid JSON');
      }
      validate(request, moduleConfigSchema, config, 'config');
    } else if (part.fieldname === 'requirements') {
      requirements = String(part.value);
    } else if (part.fieldname === 'source') {
      upload = { kind: 'source', source: String(part.value) };
    } else {
      throw new InvalidRequestError(`unexpected multipart field ${JSON.stringify(part.fieldname)}: expected a file, config or requirements`);
    }
  }
  if (upload === undefined) throw new InvalidRequestError('the multipart body has no file part');
  return {
    upload,
    ...(requirements !== undefined ? { requirements } : {}),
    ...(config !== undefined ? { config } : {}),
  };
}
