import t from 'tap';
import { ADMIN_TOKEN, eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { spawnDaemon } from '../helpers/daemon-child.js';
import { eachDriver } from '../helpers/drivers.js';
import { ORDERS } from '../helpers/orders-workflow.js';

// Workflows on real instances and a real SQLite file, on both drivers.

const ORDERS_SOURCE = `import time

def validate(event, context):
    return dict(event, valid=event.get("qty", 0) > 0)

def charge(event, context):
    return {"charged": event["qty"] * 10, "trigger": context["trigger"], "run": context["workflow"]["run_id"]}

def reject(event, context):
    return {"rejected": True, "qty": event.get("qty")}

def audit(event, context):
    return {"audited": event["charged"]}

def nap(event, context):
    started = time.time()
    time.sleep(event.get("s", 1))
    return {"from": started, "to": time.time()}

def join(event, context):
    return {"branches": sorted(event)}

def boom(event, context):
    print("about to fail")
    raise ValueError("card declined")

def stamp(event, context):
    return {"stamp": time.time_ns()}
`;

const MAIL_SOURCE = `def send(event, context):
    return {"mailed": event["charged"]}
`;

interface StepView {
  node: string;
  function: string;
  status: string;
  attempts: number;
  input: unknown;
  output: unknown;
  error: { type: string; message: string; traceback?: string } | null;
  logs: string;
  startedAt: string | null;
  finishedAt: string | null;
  coldStart: boolean | null;
}
interface RunView {
  id: string;
  status: string;
  output: unknown;
  error: { type: string; message: string; step?: string } | null;
  attempts: number;
  steps: StepView[];
}

const put = (d: { request: TestDaemon['request'] }, name: string, body: string, type = 'application/json'): Promise<Response> =>
  d.request(`/workflows/${name}`, { method: 'PUT', admin: true, headers: { 'content-type': type }, body });

const run = (d: TestDaemon, name: string, input: unknown, query = ''): Promise<Response> =>
  d.request(`/workflows/${name}/run${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });

const step = (view: RunView, node: string): StepView => {
  const found = view.steps.find((s) => s.node === node);
  if (found === undefined) throw new Error(`no step ${node}`);
  return found;
};

async function settled(request: (path: string) => Promise<Response>, id: string, ms = 30_000): Promise<RunView> {
  let last: RunView | undefined;
  await eventually(async () => ['succeeded', 'failed', 'timeout'].includes((last = (await (await request(`/workflows/runs/${id}`)).json()) as RunView).status), ms, `run ${id} to end`);
  return last as RunView;
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver });
  t.equal((await d.deploy('orders', ORDERS_SOURCE, { maxInstances: 4, timeoutMs: 10_000 })).status, 201);

  t.test('saving: warnings for functions not deployed yet, then none; YAML too; the graph', async (t) => {
    const saved = await put(d, 'orders', JSON.stringify(ORDERS));
    t.equal(saved.status, 201);
    t.match(await saved.json(), { name: 'orders', warnings: [{ at: 'nodes.notify.function', message: /module mail is not deployed/ }], graphUrl: '/workflows/orders/graph' });
    t.equal((await d.deploy('mail', MAIL_SOURCE)).status, 201);
    const again = await put(d, 'orders', JSON.stringify(ORDERS));
    t.equal(again.status, 200, 'replaced');
    t.same(((await again.json()) as { warnings: unknown[] }).warnings, []);

    const yaml = ['start: a', 'nodes:', '  a: {function: orders.stamp}', '  b:', '    function: orders.nope', 'edges:', '  - {from: a, to: b}', ''].join('\n');
    const fromYaml = await put(d, 'stamped', yaml, 'application/yaml');
    t.equal(fromYaml.status, 201, 'YAML accepted, the name taken from the URL');
    t.match(await fromYaml.json(), { definition: { name: 'stamped', start: 'a' }, warnings: [{ at: 'nodes.b.function', message: /has no function nope/ }] });
    t.equal((await put(d, 'bad', 'start: [unclosed', 'application/yaml')).status, 400);

    const list = (await (await d.request('/workflows', { admin: true })).json()) as { workflows: { name: string; nodes: number }[] };
    t.same(list.workflows.map((w) => [w.name, w.nodes]), [['orders', 5], ['stamped', 2]]);
    const graph = await d.request('/workflows/orders/graph', { admin: true });
    t.match(await graph.text(), /^flowchart TD\n {2}n0\(\["validate<br\/>orders\.validate"\]\)/);
    t.equal((await d.request('/workflows/orders/graph')).status, 401, 'admin routes need the admin token');
    t.equal((await d.request('/workflows/stamped', { method: 'DELETE', admin: true })).status, 204);
    t.equal((await d.request('/workflows/stamped', { admin: true })).status, 404);
  });

  t.test('an invalid workflow: 400 listing every problem with its place', async (t) => {
    const doc = { ...ORDERS, start: 'begin', edges: [...ORDERS.edges, { from: 'audit', to: 'validate' }, { from: 'charge', to: 'ship', when: { path: '$.x', op: '~=', value: 1 } }] };
    const res = await put(d, 'orders2', JSON.stringify({ ...doc, name: 'orders2' }));
    t.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string; problems: { at: string; message: string }[] } };
    t.equal(body.error.code, 'INVALID_WORKFLOW');
    t.same(body.error.problems.map((p) => p.at).sort(), ['edges[5].to', 'edges[5].when.op', 'start']);
    const cyclic = await put(d, 'cyclic', JSON.stringify({ ...ORDERS, name: 'cyclic', edges: [...ORDERS.edges, { from: 'audit', to: 'validate' }] }));
    t.match(await cyclic.json(), { error: { problems: [{ at: 'edges', message: /cycle: validate → charge → audit → validate/ }] } });
    t.equal((await put(d, 'other', JSON.stringify(ORDERS))).status, 400, 'a name that differs from the URL');
  });

  t.test('a sync run takes the branch its input selects, either way', async (t) => {
    const charged = await run(d, 'orders', { qty: 2 });
    t.equal(charged.status, 200);
    const view = (await charged.json()) as RunView;
    t.equal(charged.headers.get('x-hearth-run-id'), view.id);
    t.match(view, { status: 'succeeded', output: { notify: { mailed: 20 }, audit: { audited: 20 } } });
    t.same(Object.fromEntries(view.steps.map((s) => [s.node, s.status])), { validate: 'succeeded', charge: 'succeeded', notify: 'succeeded', audit: 'succeeded', reject: 'skipped' });
    t.match(step(view, 'charge'), { function: 'orders.charge', input: { qty: 2, valid: true }, output: { charged: 20, trigger: 'workflow', run: view.id }, attempts: 1 });
    t.type(step(view, 'validate').coldStart, 'boolean');

    const rejected = (await (await run(d, 'orders', { qty: 0 })).json()) as RunView;
    t.match(rejected, { status: 'succeeded', output: { rejected: true, qty: 0 } });
    t.same(rejected.steps.filter((s) => s.status === 'skipped').map((s) => s.node).sort(), ['audit', 'charge', 'notify']);
    const stored = (await (await d.request(`/workflows/runs/${rejected.id}`)).json()) as RunView;
    t.same(stored, rejected, 'the record is stored');
  });

  t.test('fan-out and join: the two branches provably run at the same time', async (t) => {
    const doc = {
      name: 'fan',
      start: 'split',
      nodes: { split: { function: 'orders.validate' }, left: { function: 'orders.nap' }, right: { function: 'orders.nap' }, both: { function: 'orders.join' } },
      edges: [
        { from: 'split', to: 'left' },
        { from: 'split', to: 'right' },
        { from: 'left', to: 'both' },
        { from: 'right', to: 'both' },
      ],
    };
    t.equal((await put(d, 'fan', JSON.stringify(doc))).status, 201);
    const view = (await (await run(d, 'fan', { s: 1 })).json()) as RunView;
    t.match(view, { status: 'succeeded', output: { branches: ['left', 'right'] } });
    const left = step(view, 'left').output as { from: number; to: number };
    const right = step(view, 'right').output as { from: number; to: number };
    // Each slept 1 s inside its function; the intervals, measured by the functions themselves, overlap.
    t.ok(left.from < right.to && right.from < left.to, `left ${JSON.stringify(left)} and right ${JSON.stringify(right)} overlap`);
    t.same(Object.keys(step(view, 'both').input as object).sort(), ['left', 'right'], 'the join got both outputs by node name');
  });

  t.test('a failing step fails the run, naming it, after its retries; later steps are skipped', async (t) => {
    const doc = {
      name: 'failing',
      start: 'a',
      nodes: { a: { function: 'orders.validate' }, pay: { function: 'orders.boom', retries: 1, retryDelayMs: 10 }, after: { function: 'orders.stamp' } },
      edges: [
        { from: 'a', to: 'pay' },
        { from: 'pay', to: 'after' },
      ],
    };
    t.equal((await put(d, 'failing', JSON.stringify(doc))).status, 201);
    const res = await run(d, 'failing', { qty: 1 });
    t.equal(res.status, 500);
    const body = (await res.json()) as { error: { code: string; message: string; run: RunView } };
    t.equal(body.error.code, 'WORKFLOW_FAILED');
    t.match(body.error.message, 'step pay (orders.boom) failed: ValueError: card declined');
    t.match(body.error.run, { status: 'failed', error: { step: 'pay', type: 'ValueError' } });
    t.match(step(body.error.run, 'pay'), { status: 'failed', attempts: 2, error: { type: 'ValueError', traceback: /card declined/ }, logs: /about to fail/ });
    t.equal(step(body.error.run, 'after').status, 'skipped');
  });

  t.test('a function that is not deployed: a clear error at run time', async (t) => {
    const doc = { name: 'ghostly', start: 'a', nodes: { a: { function: 'ghost.run' } }, edges: [] };
    const saved = (await (await put(d, 'ghostly', JSON.stringify(doc))).json()) as { warnings: unknown[] };
    t.equal(saved.warnings.length, 1);
    const res = await run(d, 'ghostly', {});
    t.equal(res.status, 500);
    t.match(await res.json(), { error: { code: 'WORKFLOW_FAILED', message: 'step a (ghost.run) failed: no module named ghost is deployed' } });
    t.equal((await run(d, 'nothing', {})).status, 404, 'an unknown workflow');
  });

  t.test('an async run: 202, then polled to completion; listed', async (t) => {
    const res = await run(d, 'orders', { qty: 5 }, '?async=1');
    t.equal(res.status, 202);
    const accepted = (await res.json()) as { id: string; status: string; statusUrl: string };
    t.match(accepted, { status: 'queued', statusUrl: `/workflows/runs/${accepted.id}` });
    t.equal(res.headers.get('location'), accepted.statusUrl);
    const done = await settled(d.request, accepted.id);
    t.match(done, { status: 'succeeded', attempts: 1, output: { notify: { mailed: 50 } } });
    const prefer = await d.request('/workflows/orders/run', { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: '{"qty": 1}' });
    t.equal(prefer.status, 202, 'Prefer: respond-async');
    const listed = (await (await d.request('/workflows/runs?workflow=orders&limit=2')).json()) as { runs: RunView[]; nextCursor: string | null };
    t.equal(listed.runs.length, 2);
    t.equal(listed.runs[1]?.id, accepted.id, 'newest first');
    t.ok(listed.nextCursor);
    t.equal((await d.request('/workflows/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV')).status, 404);
  });
});

eachDriver(t, async (t, driver) => {
  t.test('SIGKILL in the middle of an async run: after a restart it resumes from its finished steps', async (t) => {
    const dataDir = await makeDataDir(t);
    const child = await spawnDaemon(t, { HEARTH_DRIVER: driver, HEARTH_DATA_DIR: dataDir }, 60_000);
    const request = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${child.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });
    t.equal((await child.deploy('orders', ORDERS_SOURCE, { timeoutMs: 20_000 })).status, 201);
    // first's result goes beside the input (resultPath), so slow can pick the run's nap settings (inputPath).
    const doc = {
      name: 'long',
      start: 'first',
      nodes: {
        first: { function: 'orders.stamp', resultPath: '$.first' },
        slow: { function: 'orders.nap', inputPath: '$.nap' },
        last: { function: 'orders.stamp' },
      },
      edges: [
        { from: 'first', to: 'slow', when: { path: '$.first.stamp', op: '>', value: 0 } },
        { from: 'slow', to: 'last' },
      ],
    };
    t.equal((await request('/workflows/long', { method: 'PUT', body: JSON.stringify(doc) })).status, 201);
    const accepted = (await (await request('/workflows/long/run?async=1', { method: 'POST', body: JSON.stringify({ nap: { s: 4 } }) })).json()) as { id: string };
    let before: RunView | undefined;
    await eventually(
      async () => {
        before = (await (await request(`/workflows/runs/${accepted.id}`)).json()) as RunView;
        return before.steps.some((s) => s.node === 'slow' && s.status === 'running');
      },
      30_000,
      'the slow step to be under way',
    );
    await child.kill();

    const d = await startDaemon(t, { driver, dataDir });
    const after = await settled(d.request, accepted.id, 60_000);
    t.match(after, { status: 'succeeded', attempts: 2 });
    const first = step(before as RunView, 'first');
    t.same(step(after, 'first'), first, 'the finished step was not run again');
    t.equal(step(after, 'slow').attempts, 2, 'the step under way at the crash ran again');
    t.equal(step(after, 'last').status, 'succeeded');
  });
});
