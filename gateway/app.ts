import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PoolManager } from '../pool/index.js';
import { requireBearer } from './auth.js';
import type { Config } from './config.js';
import { InvalidRequestError } from './errors.js';
import { toHttpError } from './http-errors.js';
import type { ModuleRegistry } from './module-registry.js';
import { functionRoutes } from './routes/functions.js';
import type { JobRepository, RunRepository, WorkflowRepository } from '../store/index.js';
import type { CallbackSender } from './callbacks.js';
import type { JobRunner } from './job-runner.js';
import { healthRoutes } from './routes/health.js';
import { moduleRoutes } from './routes/modules.js';
import { asyncRoutes } from './routes/async.js';
import { systemRoutes } from './routes/system.js';
import { workflowAdminRoutes, workflowRunRoutes } from './routes/workflows.js';
import type { WorkflowRunner } from './workflow-runner.js';
import type { Invoker } from './invoker.js';
import type { Metrics } from './metrics.js';
import type { InvocationRecorder } from './invocation-recorder.js';
import type { LatencyWindow } from './latency-window.js';
import { invocationRoutes } from './routes/invocations.js';
import { bucketRoutes } from './routes/buckets.js';
import type { BucketStore } from '../triggers/index.js';
import type { FileJobs } from './file-jobs.js';
import { metricsRoutes } from './routes/metrics.js';
import { describeSchemaErrors, type SchemaError } from './validation-errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body as received, when it was JSON (already validated by parsing). */
    rawJson: string | undefined;
  }
}

export interface AppDeps {
  readonly config: Config;
  readonly registry: ModuleRegistry;
  readonly pools: PoolManager;
  readonly jobs: JobRepository;
  readonly runner: JobRunner;
  readonly callbacks: CallbackSender;
  readonly workflows: WorkflowRepository;
  readonly runs: RunRepository;
  readonly workflowRunner: WorkflowRunner;
  readonly invoker: Invoker;
  readonly metrics: Metrics;
  readonly recorder: InvocationRecorder;
  readonly latency: LatencyWindow;
  readonly buckets: BucketStore;
  readonly fileJobs: FileJobs;
  readonly adminToken: string;
  readonly log: Logger;
  readonly version: string;
}

/** Builds the HTTP API; never listens, so tests can `inject` or listen on port 0. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log,
    // Per-request log lines cost throughput on the hot path; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.config.limits.maxBodyBytes,
    genReqId: () => randomUUID(),
    // Unknown fields are refused with a 400 naming them, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(describeSchemaErrors(errors as SchemaError[], dataVar)),
  }) as unknown as FastifyInstance;

  // An empty JSON body is an empty event, as with form posts and bodiless calls.
  // The validated text is kept, so a call forwards it without encoding it again.
  app.decorateRequest('rawJson', undefined);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      const parsed: unknown = JSON.parse(text);
      request.rawJson = text;
      done(null, parsed);
    } catch (err) {
      done(new InvalidRequestError(`the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.removeContentTypeParser('text/plain');
  void app.register(formbody);

  app.setErrorHandler((err, request, reply) => {
    const { status, headers, body } = toHttpError(err);
    // request.log carries the request id (reqId); the call's module and function go beside it.
    // Platform faults (502 crashed, 503, 504 timeout) are warnings; a handler's own error is in its invocation record.
    const { module, fn } = (request.params ?? {}) as { module?: string; fn?: string };
    const where = { module, function: fn };
    if (status >= 500 && body.error.code === 'INTERNAL') request.log.error({ err, ...where }, 'unexpected error');
    else if (status >= 502) request.log.warn({ ...where, code: body.error.code, status }, body.error.message);
    else request.log.debug({ ...where, code: body.error.code, status }, body.error.message);
    void reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });

  // OpenAPI generated from the route schemas; registered first so it sees every route.
  void app.register(swagger, {
    openapi: {
      info: { title: 'hearth', description: 'Self-hosted Function-as-a-Service gateway', version: deps.version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  // The browsable UI at /docs, the document itself at /docs/json (and /docs/yaml); assets are served from the package, no CDN.
  void app.register(swaggerUi, { routePrefix: '/docs' });

  void app.register(healthRoutes, { driver: deps.pools.driverName, version: deps.version });
  const invokeToken = deps.config.auth.invokeToken;
  void app.register(functionRoutes, { registry: deps.registry, invoker: deps.invoker, runner: deps.runner, callbacks: deps.callbacks, invokeToken });
  void app.register(metricsRoutes, { metrics: deps.metrics, token: invokeToken });
  void app.register(asyncRoutes, { registry: deps.registry, jobs: deps.jobs, runner: deps.runner, callbacks: deps.callbacks, invokeToken });
  const workflowDeps = {
    workflows: deps.workflows,
    runs: deps.runs,
    runner: deps.workflowRunner,
    registry: deps.registry,
    maxNodes: deps.config.workflows.maxNodes,
    maxDataBytes: deps.config.workflows.maxDataBytes,
  };
  void app.register(workflowRunRoutes, { ...workflowDeps, invokeToken });
  void app.register(async (admin) => {
    admin.addHook('onRequest', requireBearer(deps.adminToken, 'admin'));
    await admin.register(multipart, { limits: { fileSize: deps.config.limits.maxUploadBytes, files: 1, fields: 10, parts: 12 } });
    await admin.register(moduleRoutes, {
      registry: deps.registry,
      pools: deps.pools,
      maxUploadBytes: deps.config.limits.maxUploadBytes,
      latency: deps.latency,
    });
    await admin.register(systemRoutes, { registry: deps.registry, pools: deps.pools, version: deps.version });
    await admin.register(workflowAdminRoutes, workflowDeps);
    await admin.register(invocationRoutes, { recorder: deps.recorder, registry: deps.registry });
    await admin.register(bucketRoutes, { buckets: deps.buckets, maxObjectBytes: deps.config.limits.maxObjectBytes, fileJobs: deps.fileJobs, runner: deps.runner });
  });
  return app;
}
