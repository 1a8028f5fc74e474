/**
 * Every route of a Fastify app as `METHOD /path/{param}`, read from
 * printRoutes({commonPrefix: false}): a tree whose lines add a path piece
 * to their parent's, four characters of indentation per level.
 */
export function listRoutes(tree: string): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    const parent = stack[depth - 1] ?? '';
    const piece = match[2] as string;
    // A wildcard child of a static node is printed without its slash (`/objects` then `*` for `/objects/*`).
    const path = piece === '*' && !parent.endsWith('/') ? `${parent}/*` : `${parent}${piece}`;
    stack[depth] = path;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      // As OpenAPI writes them: :name → {name}, * → {*}.
      routes.push(`${method} ${path.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\*$/, '{*}')}`);
    }
  }
  return routes;
}
