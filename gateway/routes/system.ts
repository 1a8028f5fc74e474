import type { FastifyInstance } from 'fastify';
import type { PoolManager } from '../../pool/index.js';
import type { ModuleRegistry } from '../module-registry.js';

export interface SystemDeps {
  readonly registry: ModuleRegistry;
  readonly pools: PoolManager;
  readonly version: string;
}

/** GET /system/info: which driver runs, and which isolation it does and does not give. */
export async function systemRoutes(app: FastifyInstance, deps: SystemDeps): Promise<void> {
  app.get('/system/info', { schema: { summary: 'Version, driver and the isolation it enforces', security: [{ bearer: [] }] } }, async () => {
    const overview = deps.pools.overview();
    return {
      version: deps.version,
      driver: deps.pools.driverInfo(),
      modules: deps.registry.list().length,
      instances: overview.instances,
      maxInstances: overview.maxInstances,
    };
  });
}
