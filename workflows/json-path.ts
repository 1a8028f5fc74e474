/**
 * The JSONPath subset of workflow documents: `$`, then `.field`, `["any field"]`
 * and `[index]`. Parsed once at validation into segments; never evaluated as code.
 */
export type PathSegment = string | number;

export interface JsonPath {
  /** As written, for messages and the stored document. */
  readonly text: string;
  readonly segments: readonly PathSegment[];
}

const MAX_PATH_LENGTH = 256;
const FIELD = /^\.([A-Za-z_][A-Za-z0-9_-]*)/;
const INDEX = /^\[(0|[1-9][0-9]{0,8})\]/;
const QUOTED = /^\[("(?:[^"\\]|\\.)*")\]/;

export const ROOT: JsonPath = { text: '$', segments: [] };

/** The parsed path, or a message saying what is wrong with it. */
export function parsePath(text: unknown): JsonPath | { readonly error: string } {
  if (typeof text !== 'string') return { error: `must be a path string such as "$.field", got ${typeName(text)}` };
  if (text.length > MAX_PATH_LENGTH) return { error: `is longer than ${MAX_PATH_LENGTH} characters` };
  if (!text.startsWith('$')) return { error: `must start with "$", got ${JSON.stringify(text)}` };
  const segments: PathSegment[] = [];
  let rest = text.slice(1);
  while (rest.length > 0) {
    let match: RegExpExecArray | null;
    if ((match = FIELD.exec(rest)) !== null) segments.push(match[1] as string);
    else if ((match = INDEX.exec(rest)) !== null) segments.push(Number(match[1]));
    else if ((match = QUOTED.exec(rest)) !== null) {
      try {
        segments.push(JSON.parse(match[1] as string) as string);
      } catch {
        return { error: `has a quoted field that is not a valid JSON string: ${match[1] as string}` };
      }
    }
    else return { error: `cannot be read at ${JSON.stringify(rest)} (supported: $, .field, ["field"], [index])` };
    rest = rest.slice(match[0].length);
  }
  return { text, segments };
}

export function isPath(value: JsonPath | { readonly error: string }): value is JsonPath {
  return 'segments' in value;
}

/** The value at `path`, or found: false when any step of it is missing or of the wrong type. */
export function readPath(root: unknown, path: JsonPath): { readonly found: boolean; readonly value: unknown } {
  let value = root;
  for (const segment of path.segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(value) || segment >= value.length) return { found: false, value: undefined };
      value = value[segment];
    } else {
      if (!isObject(value) || !Object.prototype.hasOwnProperty.call(value, segment)) return { found: false, value: undefined };
      value = value[segment];
    }
  }
  return { found: true, value };
}

/**
 * A copy of `root` with `value` placed at `path` (Step Functions' ResultPath):
 * `$` replaces the whole; missing objects on the way are created. Throws a
 * message when the place cannot exist (a field of a string, an index past the end).
 */
export function writePath(root: unknown, path: JsonPath, value: unknown): unknown {
  return place(root, path.segments, 0, value, path.text);
}

function place(node: unknown, segments: readonly PathSegment[], at: number, value: unknown, text: string): unknown {
  if (at === segments.length) return value;
  const segment = segments[at] as PathSegment;
  if (typeof segment === 'number') {
    if (!Array.isArray(node) || segment > node.length) {
      throw new PathError(`${text}: cannot set index ${segment} of ${Array.isArray(node) ? `an array of ${node.length}` : typeName(node)}`);
    }
    const copy = [...(node as unknown[])];
    copy[segment] = place(copy[segment], segments, at + 1, value, text);
    return copy;
  }
  if (node === undefined) node = {};
  if (!isObject(node)) throw new PathError(`${text}: cannot set field ${JSON.stringify(segment)} of ${typeName(node)}`);
  const current = Object.prototype.hasOwnProperty.call(node, segment) ? node[segment] : undefined;
  return { ...node, [segment]: place(current, segments, at + 1, value, text) };
}

export class PathError extends Error {
  readonly code = 'PATH_ERROR';
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** JSON's name for a value's type, for messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'nothing';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
