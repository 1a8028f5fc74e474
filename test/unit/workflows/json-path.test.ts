import t from 'tap';
import { parsePath, readPath, writePath, type JsonPath } from '../../../workflows/index.js';

function path(text: string): JsonPath {
  const parsed = parsePath(text);
  if (!('segments' in parsed)) throw new Error(parsed.error);
  return parsed;
}

t.test('parses the subset and refuses the rest', async (t) => {
  t.same(path('$').segments, []);
  t.same(path('$.a.b_c[2]["odd key"].d-e').segments, ['a', 'b_c', 2, 'odd key', 'd-e']);
  for (const bad of ['a', '$.', '$..a', '$[-1]', '$[01]', '$[*]', '$.a[?(@.x)]', "$['a']", 42]) {
    t.ok('error' in parsePath(bad), `${JSON.stringify(bad)} is refused`);
  }
  t.ok('error' in parsePath(`$${'.a'.repeat(200)}`), 'too long');
});

t.test('reads values, reporting missing ones', async (t) => {
  const data = { a: { list: [10, { b: null }] }, s: 'text' };
  t.same(readPath(data, path('$')), { found: true, value: data });
  t.same(readPath(data, path('$.a.list[1].b')), { found: true, value: null });
  t.same(readPath(data, path('$.a.list[2]')), { found: false, value: undefined });
  t.same(readPath(data, path('$.s.length')), { found: false, value: undefined }, 'no properties of strings');
  t.same(readPath(data, path('$.constructor')), { found: false, value: undefined }, 'only own fields');
  t.same(readPath(data, path('$.a[0]')), { found: false, value: undefined });
});

t.test('writes a copy, creating objects on the way', async (t) => {
  const input = { order: 1, meta: { by: 'x' } };
  t.same(writePath(input, path('$'), 'r'), 'r', '$ replaces');
  t.same(writePath(input, path('$.charge'), { ok: true }), { order: 1, meta: { by: 'x' }, charge: { ok: true } });
  t.same(writePath(input, path('$.meta.result.code'), 7), { order: 1, meta: { by: 'x', result: { code: 7 } } });
  t.same(input, { order: 1, meta: { by: 'x' } }, 'the input is not changed');
  t.same(writePath({ list: [1, 2] }, path('$.list[2]'), 3), { list: [1, 2, 3] });
  t.throws(() => writePath('text', path('$.a'), 1), /cannot set field "a" of a string/);
  t.throws(() => writePath({ list: [] }, path('$.list[3]'), 1), /cannot set index 3/);
  const polluted = writePath({}, path('$["__proto__"].x'), 1) as Record<string, unknown>;
  t.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution');
  t.ok(Object.prototype.hasOwnProperty.call(polluted, '__proto__'), '__proto__ is an own field of the copy');
});

t.test('a quoted field with a bad escape is a problem, not a crash', async (t) => {
  t.match(parsePath('$["\\q"]'), { error: /not a valid JSON string/ });
});
