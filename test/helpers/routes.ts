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
    const path = `${stack[depth - 1] ?? ''}${match[2] as string}`;
    stack[depth] = path;
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      routes.push(`${method} ${path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
    }
  }
  return routes;
}
