import type { FastifyInstance } from 'fastify';

export interface HealthDeps {
  readonly driver: string;
  readonly version: string;
}

/** Liveness: answers as long as the daemon serves HTTP. No token needed. */
export async function healthRoutes(app: FastifyInstance, deps: HealthDeps): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok', driver: deps.driver, version: deps.version }));
}
