import t from 'tap';
import { toMermaid, validateWorkflow, type Problem, type Workflow } from '../../../workflows/index.js';
import { ORDERS } from '../../helpers/orders-workflow.js';

const LIMITS = { maxNodes: 10 };


function valid(doc: unknown): Workflow {
  const result = validateWorkflow(doc, LIMITS);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.workflow;
}

function problems(doc: unknown): readonly Problem[] {
  const result = validateWorkflow(doc, LIMITS);
  if (result.ok) throw new Error('expected problems');
  return result.problems;
}

const edit = (change: (doc: typeof ORDERS & Record<string, unknown>) => void): unknown => {
  const doc = structuredClone(ORDERS) as typeof ORDERS & Record<string, unknown>;
  change(doc);
  return doc;
};

t.test('the example compiles', async (t) => {
  const workflow = valid(ORDERS);
  t.equal(workflow.start, 'validate');
  t.same([...workflow.nodes.keys()], ['validate', 'charge', 'reject', 'notify', 'audit']);
  t.match(workflow.nodes.get('notify'), { module: 'mail', fn: 'send', retries: 0, inputPath: { text: '$' }, resultPath: { text: '$' } });
  t.equal(workflow.outgoing.get('charge')?.length, 2);
  t.equal(workflow.edges[1]?.when, 'otherwise');
});

t.test('each kind of error, with its place', async (t) => {
  const cases: [string, unknown, { at?: string; message?: string | RegExp }[]][] = [
    ['not an object', [1], [{ at: '$', message: /must be an object/ }]],
    ['unknown start', edit((d) => (d.start = 'begin')), [{ at: 'start', message: /names no node: "begin"/ }]],
    ['no nodes', edit((d) => (d.nodes = {} as typeof d.nodes)), [{ at: 'nodes' }, { at: 'start' }, {}, {}, {}, {}]],
    ['edge to nowhere', edit((d) => d.edges.push({ from: 'audit', to: 'archive' })), [{ at: 'edges[4].to', message: /names no node: "archive"/ }]],
    ['edge from nowhere', edit((d) => d.edges.push({ from: 'ghost', to: 'audit' })), [{ at: 'edges[4].from' }]],
    [
      'a cycle',
      edit((d) => d.edges.push({ from: 'audit', to: 'validate' })),
      [{ at: 'edges', message: /cycle: validate → charge → audit → validate/ }],
    ],
    ['a self loop', edit((d) => d.edges.push({ from: 'audit', to: 'audit' })), [{ at: 'edges[4]', message: /to itself/ }]],
    ['an unreachable node', edit((d) => Object.assign(d.nodes, { orphan: { function: 'a.b' } })), [{ at: 'nodes.orphan', message: /cannot be reached/ }]],
    ['an unknown operator', edit((d) => ((d.edges[0] as { when: unknown }).when = { path: '$.valid', op: 'is', value: true })), [{ at: 'edges[0].when.op' }]],
    ['a malformed condition', edit((d) => ((d.edges[0] as { when: unknown }).when = 'sometimes')), [{ at: 'edges[0].when', message: /condition object/ }]],
    ['a bad function name', edit((d) => (d.nodes.charge.function = 'orders')), [{ at: 'nodes.charge.function', message: /"module.function"/ }]],
    ['an unsafe function name', edit((d) => (d.nodes.charge.function = 'os.system("x")')), [{ at: 'nodes.charge.function' }]],
    ['a bad node name', edit((d) => Object.assign(d.nodes, { 'bad name': { function: 'a.b' } })), [{ at: 'nodes.bad name' }]],
    ['a bad retry count', edit((d) => Object.assign(d.nodes.charge, { retries: 99 })), [{ at: 'nodes.charge.retries', message: /0 to 10/ }]],
    ['a bad timeout', edit((d) => Object.assign(d.nodes.charge, { timeoutMs: 0 })), [{ at: 'nodes.charge.timeoutMs' }]],
    ['a bad inputPath', edit((d) => Object.assign(d.nodes.charge, { inputPath: '.order' })), [{ at: 'nodes.charge.inputPath' }]],
    ['a bad resultPath', edit((d) => Object.assign(d.nodes.charge, { resultPath: '$[x]' })), [{ at: 'nodes.charge.resultPath' }]],
    ['an unknown node field', edit((d) => Object.assign(d.nodes.charge, { image: 'x' })), [{ at: 'nodes.charge.image' }]],
    ['an unknown top field', edit((d) => (d.triggers = [])), [{ at: 'triggers' }]],
    ['two otherwise', edit((d) => d.edges.push({ from: 'validate', to: 'audit', when: 'otherwise' } as never)), [{ at: 'edges[4].when', message: /second "otherwise"/ }]],
    ['a lone otherwise', edit((d) => (d.edges[0] = { from: 'validate', to: 'charge' } as never)), [{ at: 'edges[1].when', message: /no conditional sibling/ }]],
    ['a repeated edge', edit((d) => d.edges.push({ from: 'charge', to: 'audit' })), [{ at: 'edges[4]', message: /repeats edges\[3\]/ }]],
    ['a bad name', edit((d) => (d.name = 'my orders')), [{ at: 'name' }]],
  ];
  for (const [what, doc, expected] of cases) t.match(problems(doc), expected, what);
});

t.test('every problem is listed, not just the first', async (t) => {
  const found = problems(
    edit((d) => {
      d.start = 'nope';
      d.nodes.charge.function = 'bad';
      d.edges.push({ from: 'audit', to: 'nowhere' });
    }),
  );
  t.same(found.map((p) => p.at).sort(), ['edges[4].to', 'nodes.charge.function', 'start']);
});

t.test('the node limit', async (t) => {
  const nodes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`n${i}`, { function: 'a.b' }]));
  const edges = Array.from({ length: 10 }, (_, i) => ({ from: `n${i}`, to: `n${i + 1}` }));
  t.match(problems({ name: 'big', start: 'n0', nodes, edges }), [{ at: 'nodes', message: /11 nodes, over the limit of 10/ }]);
});

t.test('a Mermaid flowchart with the conditions on the edges', async (t) => {
  const graph = toMermaid(valid(edit((d) => ((d.edges[0] as { when: unknown }).when = { all: [{ path: '$.valid', op: '==', value: true }, { path: '$.total', op: '<', value: 5 }] }))));
  t.equal(
    graph,
    [
      'flowchart TD',
      '  n0(["validate<br/>orders.validate"])',
      '  n1["charge<br/>orders.charge"]',
      '  n2["reject<br/>orders.reject"]',
      '  n3["notify<br/>mail.send"]',
      '  n4["audit<br/>orders.audit"]',
      '  n0 -->|"$.valid == true and $.total #lt; 5"| n1',
      '  n0 -.->|"otherwise"| n2',
      '  n1 --> n3',
      '  n1 --> n4',
      '',
    ].join('\n'),
  );
  const quoted = toMermaid(valid(edit((d) => ((d.edges[0] as { when: unknown }).when = { path: '$.note', op: '==', value: 'say "hi"' }))));
  t.match(quoted, '|"$.note == #quot;say \\#quot;hi\\#quot;#quot;"|', 'quotes in values cannot end the label');
});
