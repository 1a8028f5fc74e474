import t from 'tap';
import { evaluate, parseCondition, type Condition, type Problem } from '../../../workflows/index.js';

function parse(raw: unknown): Condition {
  const problems: Problem[] = [];
  const condition = parseCondition(raw, 'when', problems);
  if (condition === undefined) throw new Error(`unexpected problems: ${JSON.stringify(problems)}`);
  return condition;
}

function problemsOf(raw: unknown): Problem[] {
  const problems: Problem[] = [];
  t.equal(parseCondition(raw, 'when', problems), undefined, `${JSON.stringify(raw)} is refused`);
  return problems;
}

const DATA = {
  valid: true,
  amount: 120,
  name: 'order-17',
  tags: ['rush', 'gift'],
  items: [{ sku: 'a', qty: 2 }],
  nested: { deep: { value: null } },
};

t.test('each operator, both ways', async (t) => {
  const cases: [unknown, boolean][] = [
    [{ path: '$.valid', op: '==', value: true }, true],
    [{ path: '$.valid', op: '==', value: 'true' }, false],
    [{ path: '$.items', op: '==', value: [{ sku: 'a', qty: 2 }] }, true],
    [{ path: '$.items', op: '==', value: [{ sku: 'a', qty: 3 }] }, false],
    [{ path: '$.amount', op: '!=', value: 100 }, true],
    [{ path: '$.amount', op: '!=', value: 120 }, false],
    [{ path: '$.amount', op: '<', value: 121 }, true],
    [{ path: '$.amount', op: '<', value: 120 }, false],
    [{ path: '$.amount', op: '<=', value: 120 }, true],
    [{ path: '$.amount', op: '<=', value: 119 }, false],
    [{ path: '$.amount', op: '>', value: 100 }, true],
    [{ path: '$.amount', op: '>', value: 120 }, false],
    [{ path: '$.amount', op: '>=', value: 120 }, true],
    [{ path: '$.amount', op: '>=', value: 121 }, false],
    [{ path: '$.name', op: '<', value: 'p' }, true],
    [{ path: '$.name', op: 'in', value: ['order-17', 'order-18'] }, true],
    [{ path: '$.name', op: 'in', value: ['order-18'] }, false],
    [{ path: '$.tags', op: 'contains', value: 'gift' }, true],
    [{ path: '$.tags', op: 'contains', value: 'fragile' }, false],
    [{ path: '$.name', op: 'contains', value: 'der-1' }, true],
    [{ path: '$.name', op: 'contains', value: 'x' }, false],
    [{ path: '$.nested.deep.value', op: 'exists' }, true],
    [{ path: '$.nested.deep.other', op: 'exists' }, false],
    [{ path: '$.nested.deep.other', op: 'exists', value: false }, true],
    [{ path: '$.name', op: 'matches', value: '^order-\\d+$' }, true],
    [{ path: '$.name', op: 'matches', value: '^invoice' }, false],
    [{ path: '$.items[0].qty', op: '==', value: 2 }, true],
    [{ path: '$["name"]', op: '==', value: 'order-17' }, true],
  ];
  for (const [raw, expected] of cases) t.equal(evaluate(parse(raw), DATA), expected, JSON.stringify(raw));
});

t.test('missing paths and type mismatches are false, never errors', async (t) => {
  const cases: unknown[] = [
    { path: '$.missing', op: '==', value: null },
    { path: '$.missing', op: '!=', value: 1 },
    { path: '$.items[5].qty', op: '>', value: 0 },
    { path: '$.name.first', op: '==', value: 'x' },
    { path: '$.valid[0]', op: '==', value: true },
    { path: '$.name', op: '>', value: 5 },
    { path: '$.amount', op: '<', value: '200' },
    { path: '$.amount', op: 'matches', value: '1' },
    { path: '$.amount', op: 'contains', value: 1 },
    { path: '$.nested', op: '<', value: 1 },
  ];
  for (const raw of cases) t.equal(evaluate(parse(raw), DATA), false, JSON.stringify(raw));
  t.equal(evaluate(parse({ path: '$.a', op: '==', value: 1 }), 'not an object'), false, 'data of another type');
  t.equal(evaluate(parse({ op: '==', value: 'plain' }), 'plain'), true, 'the path defaults to $');
});

t.test('all, any, not', async (t) => {
  const big = { path: '$.amount', op: '>', value: 100 };
  const rush = { path: '$.tags', op: 'contains', value: 'rush' };
  const gold = { path: '$.tier', op: '==', value: 'gold' };
  t.equal(evaluate(parse({ all: [big, rush] }), DATA), true);
  t.equal(evaluate(parse({ all: [big, gold] }), DATA), false);
  t.equal(evaluate(parse({ any: [gold, rush] }), DATA), true);
  t.equal(evaluate(parse({ any: [gold, { not: big }] }), DATA), false);
  t.equal(evaluate(parse({ not: { all: [big, { any: [gold, rush] }] } }), DATA), false);
});

t.test('malformed conditions say where and what', async (t) => {
  t.match(problemsOf({ path: '$.a', op: '===', value: 1 }), [{ at: 'when.op', message: /must be one of == != < <= > >= in contains exists matches/ }]);
  t.match(problemsOf({ path: '$.a', value: 1 }), [{ at: 'when.op' }]);
  t.match(problemsOf({ path: 'a.b', op: '==', value: 1 }), [{ at: 'when.path', message: /must start with "\$"/ }]);
  t.match(problemsOf({ path: '$.a..b', op: '==', value: 1 }), [{ at: 'when.path', message: /cannot be read at/ }]);
  t.match(problemsOf({ path: '$.a', op: '==' }), [{ at: 'when.value', message: /required/ }]);
  t.match(problemsOf({ path: '$.a', op: '<', value: [1] }), [{ at: 'when.value', message: /number or a string/ }]);
  t.match(problemsOf({ path: '$.a', op: 'in', value: 'abc' }), [{ at: 'when.value', message: /array/ }]);
  t.match(problemsOf({ path: '$.a', op: 'matches', value: '(' }), [{ at: 'when.value', message: /not a valid regular expression/ }]);
  for (const evil of ['^(\\w+\\s?)*$', '(a+)+', '(?:a*)*', '(x{2,})*']) {
    t.match(problemsOf({ path: '$.a', op: 'matches', value: evil }), [{ at: 'when.value', message: /repeated group that contains a repetition/ }], evil);
  }
  t.ok(parse({ path: '$.a', op: 'matches', value: '^(a|b)+-(?:ab)+\\d*$' }), 'repetition without nesting is fine');
  t.match(problemsOf({ path: '$.a', op: 'exists', value: 'yes' }), [{ at: 'when.value', message: /true or false/ }]);
  t.match(problemsOf({ path: '$.a', op: '==', value: 1, extra: 2 }), [{ at: 'when.extra' }]);
  t.match(problemsOf({ all: [] }), [{ at: 'when.all', message: /non-empty array/ }]);
  t.match(problemsOf({ all: [{ path: '$.a', op: '==', value: 1 }, { path: '$.b', op: '??', value: 1 }] }), [{ at: 'when.all[1].op' }]);
  t.match(problemsOf({ any: [{ path: '$.a', op: '==', value: 1 }], op: '==' }), [{ at: 'when', message: /takes no other field/ }]);
  t.match(problemsOf({ not: 'x' }), [{ at: 'when.not', message: /condition object/ }]);
  t.match(problemsOf(42), [{ at: 'when', message: /got a number/ }]);
  let deep: unknown = { path: '$', op: 'exists' };
  for (let i = 0; i < 20; i += 1) deep = { not: deep };
  t.match(problemsOf(deep), [{ message: /nest deeper than 16/ }]);
});
