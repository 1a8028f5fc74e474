import { isObject, isPath, parsePath, readPath, typeName, type JsonPath } from './json-path.js';

/**
 * Edge conditions are data, never code: a comparison of the value at a path
 * with a constant, combined with all/any/not. Parsed (and every regex compiled)
 * once when the workflow is saved.
 */
export const OPERATORS = ['==', '!=', '<', '<=', '>', '>=', 'in', 'contains', 'exists', 'matches'] as const;
export type Operator = (typeof OPERATORS)[number];

export type Condition =
  | { readonly kind: 'compare'; readonly path: JsonPath; readonly op: Operator; readonly value: unknown; readonly regex?: RegExp }
  | { readonly kind: 'all' | 'any'; readonly of: readonly Condition[] }
  | { readonly kind: 'not'; readonly of: Condition };

export interface Problem {
  /** Where in the document, e.g. `edges[0].when.all[1].op`. */
  readonly at: string;
  readonly message: string;
}

const MAX_DEPTH = 16;
const MAX_REGEX_LENGTH = 256;
// A quantified group that itself holds a quantifier, as in (a+)* or (\w+\s?)*: the shape whose
// backtracking is exponential. Conditions run on the daemon's thread against data callers send.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[*+}]|\?(?!:))(?:[^()\\]|\\.)*\)(?:[*+]|\{\d+,\d*\})/;
const COMPARE_KEYS = new Set(['path', 'op', 'value']);

/** The condition, or undefined with what is wrong pushed onto `problems`. */
export function parseCondition(raw: unknown, at: string, problems: Problem[], depth = 0): Condition | undefined {
  if (depth > MAX_DEPTH) {
    problems.push({ at, message: `conditions nest deeper than ${MAX_DEPTH} levels` });
    return undefined;
  }
  if (!isObject(raw)) {
    problems.push({ at, message: `must be a condition object ({path, op, value}, {all}, {any} or {not}) or "otherwise", got ${typeName(raw)}` });
    return undefined;
  }
  const keys = Object.keys(raw);
  for (const combinator of ['all', 'any'] as const) {
    if (!(combinator in raw)) continue;
    if (keys.length !== 1) return extraKeys(at, keys, combinator, problems);
    const list = raw[combinator];
    if (!Array.isArray(list) || list.length === 0) {
      problems.push({ at: `${at}.${combinator}`, message: `must be a non-empty array of conditions, got ${typeName(list)}` });
      return undefined;
    }
    const of = list.map((item, i) => parseCondition(item, `${at}.${combinator}[${i}]`, problems, depth + 1));
    return of.every((c) => c !== undefined) ? { kind: combinator, of: of as Condition[] } : undefined;
  }
  if ('not' in raw) {
    if (keys.length !== 1) return extraKeys(at, keys, 'not', problems);
    const of = parseCondition(raw.not, `${at}.not`, problems, depth + 1);
    return of === undefined ? undefined : { kind: 'not', of };
  }
  return parseCompare(raw, at, problems);
}

function parseCompare(raw: Record<string, unknown>, at: string, problems: Problem[]): Condition | undefined {
  const before = problems.length;
  for (const key of Object.keys(raw)) {
    if (!COMPARE_KEYS.has(key)) problems.push({ at: `${at}.${key}`, message: 'is not a condition field (path, op, value, or one of all, any, not)' });
  }
  const path = parsePath(raw.path ?? '$');
  if (!isPath(path)) problems.push({ at: `${at}.path`, message: path.error });
  const op = raw.op;
  if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op)) {
    problems.push({ at: `${at}.op`, message: `must be one of ${OPERATORS.join(' ')}, got ${JSON.stringify(op) ?? 'nothing'}` });
    return undefined;
  }
  const value = raw.value;
  const has = 'value' in raw;
  let regex: RegExp | undefined;
  const bad = (message: string): void => {
    problems.push({ at: `${at}.value`, message });
  };
  switch (op as Operator) {
    case 'exists':
      if (has && typeof value !== 'boolean') bad(`must be true or false for exists (or left out, meaning true), got ${typeName(value)}`);
      break;
    case '<':
    case '<=':
    case '>':
    case '>=':
      if (typeof value !== 'number' && typeof value !== 'string') bad(`must be a number or a string for ${op}, got ${typeName(value)}`);
      break;
    case 'in':
      if (!Array.isArray(value)) bad(`must be an array for in, got ${typeName(value)}`);
      break;
    case 'matches':
      if (typeof value !== 'string') bad(`must be a regular expression string for matches, got ${typeName(value)}`);
      else if (value.length > MAX_REGEX_LENGTH) bad(`is a regular expression longer than ${MAX_REGEX_LENGTH} characters`);
      else if (NESTED_QUANTIFIER.test(value)) bad('has a repeated group that contains a repetition, as in (a+)*: its matching time can explode; rewrite it without the nesting');
      else {
        try {
          regex = new RegExp(value, 'u');
        } catch (err) {
          bad(`is not a valid regular expression: ${(err as Error).message}`);
        }
      }
      break;
    default:
      if (!has) bad(`is required for ${op}`);
  }
  if (problems.length > before || !isPath(path)) return undefined;
  return { kind: 'compare', path, op: op as Operator, value: op === 'exists' && !has ? true : value, regex };
}

function extraKeys(at: string, keys: string[], combinator: string, problems: Problem[]): undefined {
  problems.push({ at, message: `a {${combinator}} condition takes no other field, got ${keys.filter((k) => k !== combinator).join(', ')}` });
  return undefined;
}

/**
 * Whether the condition holds for `data`. A missing path makes every
 * comparison false (only `exists` looks at presence); a type mismatch in an
 * ordering (a string against a number) is false too, never an error.
 */
export function evaluate(condition: Condition, data: unknown): boolean {
  switch (condition.kind) {
    case 'all':
      return condition.of.every((c) => evaluate(c, data));
    case 'any':
      return condition.of.some((c) => evaluate(c, data));
    case 'not':
      return !evaluate(condition.of, data);
    case 'compare': {
      const { found, value } = readPath(data, condition.path);
      if (condition.op === 'exists') return found === condition.value;
      if (!found) return false;
      return compare(value, condition.op, condition.value, condition.regex);
    }
  }
}

function compare(left: unknown, op: Operator, right: unknown, regex: RegExp | undefined): boolean {
  switch (op) {
    case '==':
      return deepEqual(left, right);
    case '!=':
      return !deepEqual(left, right);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      if (typeof left !== typeof right || (typeof left !== 'number' && typeof left !== 'string')) return false;
      const [a, b] = [left as number | string, right as number | string];
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    case 'in':
      return (right as unknown[]).some((item) => deepEqual(left, item));
    case 'contains':
      if (typeof left === 'string') return typeof right === 'string' && left.includes(right);
      return Array.isArray(left) && left.some((item) => deepEqual(item, right));
    case 'matches':
      return typeof left === 'string' && (regex as RegExp).test(left);
    case 'exists':
      return true;
  }
}

/** JSON equality: same type and same value, arrays in order, objects by key. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}
