import { parseCondition, type Condition, type Problem } from './condition.js';
import { isObject, isPath, parsePath, ROOT, typeName, type JsonPath } from './json-path.js';
import type { Workflow, WorkflowEdge, WorkflowNode } from './workflow.js';

export interface WorkflowLimits {
  /** Nodes one workflow may have. */
  readonly maxNodes: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// A node name: as a function name, plus dashes.
const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const FUNCTION = /^([A-Za-z_][A-Za-z0-9_]{0,63})\.([A-Za-z_][A-Za-z0-9_]{0,63})$/;
const TOP_KEYS = new Set(['name', 'description', 'start', 'nodes', 'edges']);
const NODE_KEYS = new Set(['function', 'description', 'timeoutMs', 'retries', 'retryDelayMs', 'inputPath', 'resultPath']);
const EDGE_KEYS = new Set(['from', 'to', 'when']);
const MAX_TIMEOUT_MS = 86_400_000;
const MAX_RETRIES = 10;
const MAX_RETRY_DELAY_MS = 60_000;
const DEFAULT_RETRY_DELAY_MS = 200;

export type Validation = { readonly ok: true; readonly workflow: Workflow } | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Checks a workflow document and compiles it. Every problem is reported, each
 * with its place in the document, rather than stopping at the first.
 */
export function validateWorkflow(doc: unknown, limits: WorkflowLimits): Validation {
  const problems: Problem[] = [];
  const fail = (): Validation => ({ ok: false, problems });
  if (!isObject(doc)) {
    problems.push({ at: '$', message: `a workflow must be an object with name, start, nodes and edges, got ${typeName(doc)}` });
    return fail();
  }
  for (const key of Object.keys(doc)) if (!TOP_KEYS.has(key)) problems.push({ at: key, message: 'is not a workflow field (name, description, start, nodes, edges)' });
  const name = doc.name;
  if (typeof name !== 'string' || !NAME.test(name)) problems.push({ at: 'name', message: `must match ${NAME.source}, got ${JSON.stringify(name) ?? 'nothing'}` });
  if (doc.description !== undefined && typeof doc.description !== 'string') problems.push({ at: 'description', message: 'must be a string' });

  const nodes = new Map<string, WorkflowNode>();
  if (!isObject(doc.nodes) || Object.keys(doc.nodes).length === 0) {
    problems.push({ at: 'nodes', message: `must be an object of one or more nodes keyed by name, got ${typeName(doc.nodes)}` });
  } else {
    const entries = Object.entries(doc.nodes);
    if (entries.length > limits.maxNodes) problems.push({ at: 'nodes', message: `has ${entries.length} nodes, over the limit of ${limits.maxNodes} (HEARTH_WORKFLOW_MAX_NODES)` });
    for (const [key, raw] of entries) {
      const node = parseNode(key, raw, `nodes.${key}`, problems);
      if (node !== undefined) nodes.set(key, node);
    }
  }
  const known = isObject(doc.nodes) ? new Set(Object.keys(doc.nodes)) : new Set<string>();

  const start = doc.start;
  if (typeof start !== 'string') problems.push({ at: 'start', message: `must name the first node, got ${typeName(start)}` });
  else if (!known.has(start)) problems.push({ at: 'start', message: `names no node: ${JSON.stringify(start)}${suggest(known)}` });

  const edges: WorkflowEdge[] = [];
  if (!Array.isArray(doc.edges)) {
    if (doc.edges !== undefined) problems.push({ at: 'edges', message: `must be an array, got ${typeName(doc.edges)}` });
  } else {
    doc.edges.forEach((raw, i) => {
      const edge = parseEdge(raw, `edges[${i}]`, known, problems);
      if (edge !== undefined) edges.push(edge);
    });
    checkSiblings(doc.edges, edges, problems);
  }
  if (problems.length > 0) return fail();

  const outgoing = groupBy(edges, (edge) => edge.from);
  const incoming = groupBy(edges, (edge) => edge.to);
  const cycle = findCycle([...nodes.keys()], outgoing);
  if (cycle !== undefined) problems.push({ at: 'edges', message: `form a cycle: ${cycle.join(' → ')} (a workflow is a DAG)` });
  else {
    const reached = reachable(start as string, outgoing);
    for (const node of nodes.keys()) {
      if (!reached.has(node)) problems.push({ at: `nodes.${node}`, message: `cannot be reached from the start node ${start as string}` });
    }
  }
  if (problems.length > 0) return fail();
  return { ok: true, workflow: { name: name as string, start: start as string, nodes, edges, outgoing, incoming } };
}

function parseNode(key: string, raw: unknown, at: string, problems: Problem[]): WorkflowNode | undefined {
  const before = problems.length;
  if (!NODE_NAME.test(key)) problems.push({ at, message: `is not a valid node name (${NODE_NAME.source})` });
  if (!isObject(raw)) {
    problems.push({ at, message: `must be an object with a function, got ${typeName(raw)}` });
    return undefined;
  }
  for (const field of Object.keys(raw)) if (!NODE_KEYS.has(field)) problems.push({ at: `${at}.${field}`, message: `is not a node field (${[...NODE_KEYS].join(', ')})` });
  const match = typeof raw.function === 'string' ? FUNCTION.exec(raw.function) : null;
  if (match === null) problems.push({ at: `${at}.function`, message: `must be "module.function", got ${JSON.stringify(raw.function) ?? 'nothing'}` });
  if (raw.description !== undefined && typeof raw.description !== 'string') problems.push({ at: `${at}.description`, message: 'must be a string' });
  const timeoutMs = integer(raw.timeoutMs, `${at}.timeoutMs`, 1, MAX_TIMEOUT_MS, problems);
  const retries = integer(raw.retries, `${at}.retries`, 0, MAX_RETRIES, problems) ?? 0;
  const retryDelayMs = integer(raw.retryDelayMs, `${at}.retryDelayMs`, 0, MAX_RETRY_DELAY_MS, problems) ?? DEFAULT_RETRY_DELAY_MS;
  const inputPath = path(raw.inputPath, `${at}.inputPath`, problems);
  const resultPath = path(raw.resultPath, `${at}.resultPath`, problems);
  if (problems.length > before || match === null) return undefined;
  return { name: key, module: match[1] as string, fn: match[2] as string, timeoutMs, retries, retryDelayMs, inputPath, resultPath };
}

function parseEdge(raw: unknown, at: string, known: ReadonlySet<string>, problems: Problem[]): WorkflowEdge | undefined {
  if (!isObject(raw)) {
    problems.push({ at, message: `must be an object {from, to, when?}, got ${typeName(raw)}` });
    return undefined;
  }
  const before = problems.length;
  for (const field of Object.keys(raw)) if (!EDGE_KEYS.has(field)) problems.push({ at: `${at}.${field}`, message: 'is not an edge field (from, to, when)' });
  for (const end of ['from', 'to'] as const) {
    const target = raw[end];
    if (typeof target !== 'string') problems.push({ at: `${at}.${end}`, message: `must name a node, got ${typeName(target)}` });
    else if (!known.has(target)) problems.push({ at: `${at}.${end}`, message: `names no node: ${JSON.stringify(target)}${suggest(known)}` });
  }
  if (raw.from === raw.to && typeof raw.from === 'string') problems.push({ at, message: `goes from ${raw.from} to itself (a workflow is a DAG)` });
  let when: Condition | 'otherwise' | undefined;
  if (raw.when === 'otherwise') when = 'otherwise';
  else if (raw.when !== undefined) when = parseCondition(raw.when, `${at}.when`, problems);
  if (problems.length > before) return undefined;
  return { from: raw.from as string, to: raw.to as string, when };
}

/** One `otherwise` per node, no edge twice. */
function checkSiblings(raw: readonly unknown[], edges: readonly WorkflowEdge[], problems: Problem[]): void {
  const otherwise = new Map<string, number>();
  const pairs = new Map<string, number>();
  raw.forEach((edge, i) => {
    if (!isObject(edge) || typeof edge.from !== 'string' || typeof edge.to !== 'string') return;
    const pair = JSON.stringify([edge.from, edge.to]);
    const first = pairs.get(pair);
    if (first !== undefined) problems.push({ at: `edges[${i}]`, message: `repeats edges[${first}] (${edge.from} → ${edge.to}); combine their conditions with any` });
    else pairs.set(pair, i);
    if (edge.when !== 'otherwise') return;
    const earlier = otherwise.get(edge.from);
    if (earlier !== undefined) problems.push({ at: `edges[${i}].when`, message: `is a second "otherwise" from ${edge.from} (the first is edges[${earlier}])` });
    else otherwise.set(edge.from, i);
  });
  for (const [from, i] of otherwise) {
    if (!edges.some((edge) => edge.from === from && edge.when !== undefined && edge.when !== 'otherwise')) {
      problems.push({ at: `edges[${i}].when`, message: `"otherwise" from ${from} has no conditional sibling edge to be the alternative of` });
    }
  }
}

function integer(value: unknown, at: string, min: number, max: number, problems: Problem[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    problems.push({ at, message: `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}` });
    return undefined;
  }
  return value;
}

function path(value: unknown, at: string, problems: Problem[]): JsonPath {
  if (value === undefined) return ROOT;
  const parsed = parsePath(value);
  if (isPath(parsed)) return parsed;
  problems.push({ at, message: parsed.error });
  return ROOT;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list === undefined) groups.set(key(item), [item]);
    else list.push(item);
  }
  return groups;
}

/** One cycle as a list of nodes (first repeated at the end), if there is any. */
function findCycle(nodes: readonly string[], outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const edge of outgoing.get(node) ?? []) {
      const seen = state.get(edge.to);
      if (seen === 'open') return [...stack.slice(stack.indexOf(edge.to)), edge.to];
      if (seen === undefined) {
        const found = visit(edge.to);
        if (found !== undefined) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of nodes) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found !== undefined) return found;
  }
  return undefined;
}

function reachable(start: string, outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>): Set<string> {
  const seen = new Set([start]);
  const todo = [start];
  for (let node = todo.pop(); node !== undefined; node = todo.pop()) {
    for (const edge of outgoing.get(node) ?? []) {
      if (!seen.has(edge.to)) {
        seen.add(edge.to);
        todo.push(edge.to);
      }
    }
  }
  return seen;
}

function suggest(known: ReadonlySet<string>): string {
  return known.size === 0 ? '' : ` (nodes: ${[...known].slice(0, 20).join(', ')})`;
}
