import SwaggerParser from '@apidevtools/swagger-parser';
import t from 'tap';
import { startDaemon } from '../helpers/daemon.js';
import { listRoutes } from '../helpers/routes.js';

// The OpenAPI document: valid OpenAPI 3, and every route of the API in it.
// The HTTP surface does not depend on the engine, so the process driver serves.

t.test('the OpenAPI document is valid and lists every route', async (t) => {
  const d = await startDaemon(t, { driver: 'process' });
  const doc = (await (await d.request('/docs/json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'valid against the OpenAPI 3 schema');

  const documented = new Set(Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)));
  const routes = listRoutes(d.daemon.app.printRoutes({ commonPrefix: false })).filter((route) => !route.startsWith('HEAD ') && !route.includes(' /docs'));
  t.ok(routes.length >= 25, `found the routes (${routes.length})`);
  for (const route of routes) t.ok(documented.has(route), `${route} is documented`);
  for (const route of ['POST /function/{module}/{fn}', 'PUT /workflows/{name}', 'GET /metrics', 'GET /system/invocations/{id}']) t.ok(documented.has(route), route);

  const ui = await d.request('/docs/');
  t.equal(ui.status, 200, 'the UI');
  t.match(ui.headers.get('content-type'), /text\/html/);
});
