import type { FastifyInstance } from 'fastify';
import type { NewJob } from '../../store/index.js';
import { BUCKET_PATTERN, type BucketStore, type ObjectInfo } from '../../triggers/index.js';
import { InvalidRequestError } from '../errors.js';
import type { FileJobs } from '../file-jobs.js';
import { NAME_PATTERN } from '../module-config.js';
import type { JobRunner } from '../job-runner.js';

export interface BucketRoutesDeps {
  readonly buckets: BucketStore;
  readonly maxObjectBytes: number;
  readonly fileJobs: FileJobs;
  readonly runner: JobRunner;
}

const bucketParams = { type: 'object', required: ['bucket'], properties: { bucket: { type: 'string', pattern: BUCKET_PATTERN } } } as const;
const objectParams = {
  type: 'object',
  required: ['bucket', '*'],
  properties: { bucket: { type: 'string', pattern: BUCKET_PATTERN }, '*': { type: 'string', maxLength: 4096 } },
} as const;

function objectView(info: ObjectInfo): Record<string, unknown> {
  return { bucket: info.bucket, key: info.key, size: info.size, contentType: info.contentType, sha256: info.sha256, createdAt: new Date(info.createdAt).toISOString() };
}

function jobView(job: NewJob): Record<string, unknown> {
  return { id: job.id, module: job.module, function: job.function, statusUrl: `/async/${job.id}` };
}

// The list cursor is the last key, base64url so any key survives a query string.
const encodeCursor = (key: string): string => Buffer.from(key).toString('base64url');
const decodeCursor = (cursor: string): string => Buffer.from(cursor, 'base64url').toString('utf8');

/** Local object storage (admin token): buckets, and objects streamed in and out. */
export async function bucketRoutes(app: FastifyInstance, deps: BucketRoutesDeps): Promise<void> {
  // Object bodies are streamed to disk as they arrive, whatever their type: no parser reads them first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.put<{ Params: { bucket: string } }>('/buckets/:bucket', { schema: { summary: 'Create a bucket (201; 200 when it exists)', params: bucketParams } }, async (request, reply) => {
    const created = await deps.buckets.createBucket(request.params.bucket);
    return reply.code(created ? 201 : 200).send({ bucket: request.params.bucket, created });
  });

  app.get('/buckets', { schema: { summary: 'Buckets, with object counts and bytes' } }, async () => ({ buckets: deps.buckets.buckets() }));

  app.delete<{ Params: { bucket: string } }>('/buckets/:bucket', { schema: { summary: 'Remove an empty bucket (409 while it holds objects)', params: bucketParams } }, async (request, reply) => {
    await deps.buckets.deleteBucket(request.params.bucket);
    return reply.code(204).send();
  });

  app.put<{ Params: { bucket: string; '*': string } }>(
    '/buckets/:bucket/objects/*',
    { schema: { summary: 'Upload an object (streamed; visible only once complete; HEARTH_MAX_OBJECT_BYTES at most)', params: objectParams } },
    async (request, reply) => {
      const contentType = request.headers['content-type'] ?? 'application/octet-stream';
      // The jobs of matching file triggers are committed with the object: no upload is left without them.
      let triggered: NewJob[] = [];
      const info = await deps.buckets.put(request.params.bucket, request.params['*'], request.raw, {
        contentType,
        maxBytes: deps.maxObjectBytes,
        onIndexed: (stored) => {
          triggered = deps.fileJobs.jobsFor(stored);
        },
      });
      deps.runner.queued(triggered);
      return reply.code(201).send({ ...objectView(info), jobs: triggered.map(jobView) });
    },
  );

  app.post<{ Params: { bucket: string; '*': string }; Querystring: { module?: string } }>(
    '/buckets/:bucket/objects/*',
    {
      schema: {
        summary: "Process a stored object again: a job for each matching file trigger (of `module` only, when given); 202 with the jobs",
        params: objectParams,
        querystring: { type: 'object', additionalProperties: false, properties: { module: { type: 'string', pattern: NAME_PATTERN } } },
      },
    },
    async (request, reply) => {
      const { bucket, '*': key } = request.params;
      const jobs = deps.fileJobs.jobsFor(deps.buckets.head(bucket, key), request.query.module);
      if (jobs.length === 0) {
        throw new InvalidRequestError(`no file trigger${request.query.module === undefined ? '' : ` of module ${request.query.module}`} matches ${bucket}/${key}`);
      }
      deps.runner.queued(jobs);
      return reply.code(202).send({ bucket, key, jobs: jobs.map(jobView) });
    },
  );

  app.get<{ Params: { bucket: string; '*': string } }>('/buckets/:bucket/objects/*', { schema: { summary: 'Download an object', params: objectParams } }, async (request, reply) => {
    const { info, stream } = deps.buckets.open(request.params.bucket, request.params['*']);
    return reply.type(info.contentType).header('content-length', String(info.size)).header('etag', `"${info.sha256}"`).send(stream);
  });

  app.delete<{ Params: { bucket: string; '*': string } }>('/buckets/:bucket/objects/*', { schema: { summary: 'Delete an object', params: objectParams } }, async (request, reply) => {
    await deps.buckets.delete(request.params.bucket, request.params['*']);
    return reply.code(204).send();
  });

  app.get<{ Params: { bucket: string }; Querystring: { prefix?: string; cursor?: string; limit?: string } }>(
    '/buckets/:bucket/objects',
    {
      schema: {
        summary: 'Objects in key order (limit 1-1000, default 100); pass nextCursor as cursor for the next page',
        params: bucketParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            prefix: { type: 'string', maxLength: 1024 },
            cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,1400}$' },
            limit: { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$' },
          },
        },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 100);
      const { cursor } = request.query;
      const rows = deps.buckets.list(request.params.bucket, { prefix: request.query.prefix ?? '', after: cursor === undefined ? undefined : decodeCursor(cursor), limit });
      const last = rows[rows.length - 1];
      return { objects: rows.map(objectView), nextCursor: rows.length === limit && last !== undefined ? encodeCursor(last.key) : null };
    },
  );
}
