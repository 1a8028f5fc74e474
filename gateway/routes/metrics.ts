import type { FastifyInstance } from 'fastify';
import { requireBearer } from '../auth.js';
import type { Metrics } from '../metrics.js';

/** `GET /metrics`: Prometheus text format. Same token as function calls (open unless HEARTH_INVOKE_TOKEN is set). */
export async function metricsRoutes(app: FastifyInstance, deps: { readonly metrics: Metrics; readonly token: string | undefined }): Promise<void> {
  if (deps.token !== undefined) app.addHook('onRequest', requireBearer(deps.token, 'metrics'));
  app.get('/metrics', { schema: { summary: 'Prometheus metrics: calls, durations, cold starts, instances, queues, jobs, process' } }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
