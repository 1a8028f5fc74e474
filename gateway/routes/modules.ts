import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PackageUpload } from '../../builder/index.js';
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

type Validator = ((value: unknown) => boolean) & { errors?: SchemaError[] | null };

/** Deploy, scale, list, inspect and remove modules; the pools overview. Registered inside the admin-token scope. */
export async function moduleRoutes(app: FastifyInstance, deps: ModuleRoutesDeps): Promise<void> {
  app.put<{ Params: { module: string } }>(
    '/system/modules/:module',
    { schema: { summary: 'Deploy or update a module (JSON {source, requirements, config} or multipart)', params: moduleParams, security: [{ bearer: [] }] }, bodyLimit: deps.maxUploadBytes },
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
  validate(request, jsonDeploySchema, request.body, 'body');
  const body = request.body as { source: string; requirements?: string; config?: Partial<ModuleConfig> };
  return {
    upload: { kind: 'source', source: body.source },
    ...(body.requirements !== undefined ? { requirements: body.requirements } : {}),
    ...(body.config !== undefined ? { config: body.config } : {}),
  };
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
