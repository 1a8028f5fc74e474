import t from 'tap';
import { executeRun, validateWorkflow, type RunEnv, type RunResult, type Step, type StepCall, type StepReply, type Workflow } from '../../../workflows/index.js';
import { ORDERS } from '../../helpers/orders-workflow.js';

type Handler = (event: unknown, call: StepCall) => unknown;

function compile(doc: unknown): Workflow {
  const result = validateWorkflow(doc, { maxNodes: 100 });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.workflow;
}

/** A fake invoker: handlers by `module.fn`; a thrown value is the call's error. Records the order of events. */
function harness(handlers: Record<string, Handler>, overrides: Partial<RunEnv> = {}) {
  const log: string[] = [];
  const calls: StepCall[] = [];
  const changes: Step[] = [];
  const env: RunEnv = {
    invoke: async (call): Promise<StepReply> => {
      calls.push(call);
      const name = `${call.node.module}.${call.node.fn}`;
      const handler = handlers[name];
      if (handler === undefined) throw Object.assign(new Error(`no module named ${call.node.module} is deployed`), { code: 'MODULE_NOT_FOUND' });
      log.push(`start ${call.node.name}`);
      try {
        const result = await handler(JSON.parse(call.eventJson) as unknown, call);
        return { result, logs: `ran ${call.node.name}`, durationMs: 1, coldStart: false };
      } finally {
        log.push(`end ${call.node.name}`);
      }
    },
    onStep: (step) => changes.push(step),
    now: Date.now,
    limits: { maxSteps: 100, maxRunMs: 5000, maxDataBytes: 10_000 },
    signal: new AbortController().signal,
    ...overrides,
  };
  return { env, log, calls, changes };
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const byNode = (result: RunResult): Record<string, Step> => Object.fromEntries(result.steps.map((step) => [step.node, step]));
const statuses = (result: RunResult): Record<string, string> => Object.fromEntries(result.steps.map((step) => [step.node, step.status]));

const ORDER_HANDLERS: Record<string, Handler> = {
  'orders.validate': (event) => ({ ...(event as object), valid: (event as { qty: number }).qty > 0 }),
  'orders.charge': (event) => ({ charged: (event as { qty: number }).qty * 10 }),
  'orders.reject': () => ({ rejected: true }),
  'mail.send': (event) => ({ mailed: event }),
  'orders.audit': () => 'audited',
};

t.test('the condition sends the run one way or the other', async (t) => {
  const yes = harness(ORDER_HANDLERS);
  const charged = await executeRun(compile(ORDERS), { qty: 2 }, yes.env);
  t.equal(charged.status, 'succeeded');
  t.same(statuses(charged), { validate: 'succeeded', charge: 'succeeded', notify: 'succeeded', audit: 'succeeded', reject: 'skipped' });
  // Two leaves: an object of their outputs keyed by node.
  t.same((charged as { output: unknown }).output, { notify: { mailed: { charged: 20 } }, audit: 'audited' });
  t.equal(byNode(charged).charge?.input, '{"qty":2,"valid":true}', "a node's output is the next node's event");

  const no = harness(ORDER_HANDLERS);
  const rejected = await executeRun(compile(ORDERS), { qty: 0 }, no.env);
  t.same(statuses(rejected), { validate: 'succeeded', reject: 'succeeded', charge: 'skipped', notify: 'skipped', audit: 'skipped' });
  t.same((rejected as { output: unknown }).output, { rejected: true }, 'one leaf: its output');
  t.same(
    no.calls.map((call) => call.node.name),
    ['validate', 'reject'],
    'skipped nodes are never called',
  );
});

t.test('fan-out runs branches at the same time; the join waits for both and gets their outputs by name', async (t) => {
  const doc = {
    name: 'fan',
    start: 'split',
    nodes: { split: { function: 'm.split' }, left: { function: 'm.left' }, right: { function: 'm.right' }, join: { function: 'm.join' } },
    edges: [
      { from: 'split', to: 'left' },
      { from: 'split', to: 'right' },
      { from: 'left', to: 'join' },
      { from: 'right', to: 'join' },
    ],
  };
  const h = harness({
    'm.split': (event) => event,
    'm.left': async () => {
      await wait(50);
      return 'L';
    },
    'm.right': async () => {
      await wait(10);
      return 'R';
    },
    'm.join': (event) => event,
  });
  const result = await executeRun(compile(doc), { n: 1 }, h.env);
  t.same((result as { output: unknown }).output, { left: 'L', right: 'R' });
  t.same(h.log.slice(2, 6), ['start left', 'start right', 'end right', 'end left'], 'both branches were under way together');
  t.same(h.log.slice(6), ['start join', 'end join'], 'the join ran once, after both');
});

t.test('a join waits only for the branches that were taken', async (t) => {
  const doc = {
    name: 'partial',
    start: 'a',
    nodes: { a: { function: 'm.a' }, b: { function: 'm.b' }, c: { function: 'm.c' }, d: { function: 'm.d' } },
    edges: [
      { from: 'a', to: 'b', when: { path: '$.go', op: 'contains', value: 'b' } },
      { from: 'a', to: 'c', when: { path: '$.go', op: 'contains', value: 'c' } },
      { from: 'b', to: 'd' },
      { from: 'c', to: 'd' },
    ],
  };
  const h = harness({ 'm.a': (e) => e, 'm.b': () => 'B', 'm.c': () => 'C', 'm.d': (e) => e });
  const result = await executeRun(compile(doc), { go: ['c'] }, h.env);
  t.same(statuses(result), { a: 'succeeded', c: 'succeeded', d: 'succeeded', b: 'skipped' });
  t.same((result as { output: unknown }).output, { c: 'C' });
  const none = await executeRun(compile(doc), { go: [] }, harness({ 'm.a': (e) => e }).env);
  t.same(statuses(none), { a: 'succeeded', b: 'skipped', c: 'skipped', d: 'skipped' }, 'a skip propagates');
  t.same((none as { output: unknown }).output, { go: [] }, 'the run ends in a');
});

t.test('otherwise fires only when no conditional sibling did; unconditional edges always fire', async (t) => {
  const doc = {
    name: 'other',
    start: 'a',
    nodes: { a: { function: 'm.a' }, big: { function: 'm.x' }, small: { function: 'm.x' }, log: { function: 'm.x' } },
    edges: [
      { from: 'a', to: 'big', when: { path: '$', op: '>', value: 10 } },
      { from: 'a', to: 'small', when: 'otherwise' },
      { from: 'a', to: 'log' },
    ],
  };
  const handlers = { 'm.a': (e: unknown) => e, 'm.x': () => 'x' };
  t.same(statuses(await executeRun(compile(doc), 50, harness(handlers).env)), { a: 'succeeded', big: 'succeeded', log: 'succeeded', small: 'skipped' });
  t.same(statuses(await executeRun(compile(doc), 5, harness(handlers).env)), { a: 'succeeded', small: 'succeeded', log: 'succeeded', big: 'skipped' });
});

t.test('a failing step fails the run, naming it; a running sibling finishes; the rest are skipped', async (t) => {
  const doc = {
    name: 'fail',
    start: 'a',
    nodes: { a: { function: 'm.a' }, bad: { function: 'm.bad' }, slow: { function: 'm.slow' }, after: { function: 'm.a' } },
    edges: [
      { from: 'a', to: 'bad' },
      { from: 'a', to: 'slow' },
      { from: 'bad', to: 'after' },
    ],
  };
  const h = harness({
    'm.a': (e) => e,
    'm.bad': () => {
      throw Object.assign(new Error('KeyError: card'), { code: 'HANDLER_ERROR', details: { type: 'KeyError', traceback: 'Traceback…', logs: 'charging' } });
    },
    'm.slow': async () => {
      await wait(30);
      return 'done anyway';
    },
  });
  const result = await executeRun(compile(doc), {}, h.env);
  t.match(result, { status: 'failed', error: { type: 'KeyError', step: 'bad', message: 'step bad (m.bad) failed: KeyError: card' } });
  t.same(statuses(result), { a: 'succeeded', bad: 'failed', slow: 'succeeded', after: 'skipped' });
  t.match(byNode(result).bad, { error: { type: 'KeyError', traceback: 'Traceback…' }, logs: 'charging', attempts: 1 });
});

t.test('retries: a step that fails then succeeds; a permanent error is not retried; a timeout is marked as one', async (t) => {
  let tries = 0;
  const flaky = harness({
    'm.flaky': () => {
      tries += 1;
      if (tries < 3) throw Object.assign(new Error('crashed'), { code: 'INSTANCE_CRASHED' });
      return 'ok';
    },
  });
  const one = (node: object) => ({ name: 'one', start: 'only', nodes: { only: node }, edges: [] });
  const ok = await executeRun(compile(one({ function: 'm.flaky', retries: 2, retryDelayMs: 1 })), {}, flaky.env);
  t.match(ok, { status: 'succeeded', output: 'ok' });
  t.match(byNode(ok).only, { attempts: 3, status: 'succeeded', error: { type: 'INSTANCE_CRASHED' } }, 'the last failure is kept for the record');

  const missing = harness({});
  const gone = await executeRun(compile(one({ function: 'ghost.fn', retries: 3, retryDelayMs: 1 })), {}, missing.env);
  t.match(gone, { status: 'failed', error: { type: 'MODULE_NOT_FOUND', message: /no module named ghost is deployed/ } });
  t.equal(missing.calls.length, 1, 'not retried');

  const slow = harness({ 'm.slow': () => Promise.reject(Object.assign(new Error('too slow'), { code: 'INVOCATION_TIMEOUT' })) });
  const timedOut = await executeRun(compile(one({ function: 'm.slow', retries: 1, retryDelayMs: 1, timeoutMs: 50 })), {}, slow.env);
  t.match(byNode(timedOut).only, { status: 'timeout', attempts: 2 });
  t.equal(slow.calls[0]?.node.timeoutMs, 50, "the node's timeout goes to the invoker");
  t.equal(timedOut.status, 'failed');

  let saturated = 0;
  const busy = harness({
    'm.busy': () => {
      saturated += 1;
      if (saturated < 3) throw Object.assign(new Error('queue full'), { code: 'POOL_SATURATED' });
      return 'in';
    },
  });
  const waited = await executeRun(compile(one({ function: 'm.busy' })), {}, busy.env);
  t.match(waited, { status: 'succeeded', output: 'in' }, 'a full queue is waited out, not a failed attempt');
  t.equal(byNode(waited).only?.attempts, 1);
});

t.test('inputPath picks the event, resultPath places the result', async (t) => {
  const doc = {
    name: 'paths',
    start: 'a',
    nodes: {
      a: { function: 'm.total', inputPath: '$.order.items', resultPath: '$.total' },
      b: { function: 'm.echo', inputPath: '$.total' },
    },
    edges: [{ from: 'a', to: 'b' }],
  };
  const h = harness({ 'm.total': (items) => (items as number[]).reduce((a, b) => a + b, 0), 'm.echo': (e) => ({ got: e }) });
  const result = await executeRun(compile(doc), { order: { items: [1, 2, 3] }, id: 7 }, h.env);
  t.same(h.calls.map((c) => c.eventJson), ['[1,2,3]', '6']);
  t.equal(byNode(result).a?.output, '{"order":{"items":[1,2,3]},"id":7,"total":6}');
  t.same((result as { output: unknown }).output, { got: 6 });

  const missing = await executeRun(compile(doc), { order: {} }, harness({}).env);
  t.match(missing, { status: 'failed', error: { type: 'INPUT_PATH_MISSING', step: 'a', message: /inputPath \$\.order\.items/ } });
});

t.test('limits: data size, function calls, run time', async (t) => {
  const one = (node: object) => ({ name: 'one', start: 'only', nodes: { only: node }, edges: [] });
  const big = harness({ 'm.big': () => 'x'.repeat(20_000) });
  t.match(await executeRun(compile(one({ function: 'm.big' })), {}, big.env), { status: 'failed', error: { type: 'DATA_TOO_LARGE', message: /output is 20002 bytes/ } });
  const input = await executeRun(compile(one({ function: 'm.big' })), 'y'.repeat(20_000), harness({ 'm.big': () => 1 }).env);
  t.match(input, { status: 'failed', error: { type: 'DATA_TOO_LARGE', message: /input/ } });

  const chain = {
    name: 'chain',
    start: 'a',
    nodes: { a: { function: 'm.x' }, b: { function: 'm.x' }, c: { function: 'm.x' } },
    edges: [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
    ],
  };
  const capped = harness({ 'm.x': () => 1 }, { limits: { maxSteps: 2, maxRunMs: 5000, maxDataBytes: 1000 } });
  t.match(await executeRun(compile(chain), {}, capped.env), { status: 'failed', error: { type: 'STEP_LIMIT', step: 'c' } });

  const slow = harness({ 'm.x': () => wait(300).then(() => 1) }, { limits: { maxSteps: 10, maxRunMs: 100, maxDataBytes: 1000 } });
  const timedOut = await executeRun(compile(chain), {}, slow.env);
  t.match(timedOut, { status: 'timeout', error: { type: 'RUN_TIMEOUT' } });
  t.same(statuses(timedOut), { a: 'timeout', b: 'skipped', c: 'skipped' });
  await wait(300);
  t.equal(slow.changes.filter((s) => s.node === 'a').at(-1)?.status, 'timeout', 'a step ending after the run timed out changes nothing');
});

t.test('resuming: finished steps are not run again, their outputs drive the same decisions', async (t) => {
  const first = harness(ORDER_HANDLERS);
  const done = await executeRun(compile(ORDERS), { qty: 3 }, first.env);
  // As if the daemon died after charge: validate and charge are recorded as succeeded.
  const previous = new Map(done.steps.filter((step) => step.node === 'validate' || step.node === 'charge').map((step) => [step.node, step]));
  const second = harness(ORDER_HANDLERS, { previous });
  const resumed = await executeRun(compile(ORDERS), { qty: 3 }, second.env);
  t.same(second.calls.map((c) => c.node.name).sort(), ['audit', 'notify']);
  t.same((resumed as { output: unknown }).output, (done as { output: unknown }).output);
});

t.test('a stopping daemon interrupts the run: no new step, nothing failed', async (t) => {
  const abort = new AbortController();
  const h = harness(
    {
      ...ORDER_HANDLERS,
      'orders.validate': async (event) => {
        abort.abort();
        throw Object.assign(new Error('killed at shutdown'), { code: 'INSTANCE_CRASHED', event });
      },
    },
    { signal: abort.signal },
  );
  const result = await executeRun(compile(ORDERS), { qty: 1 }, h.env);
  t.equal(result.status, 'interrupted');
  t.equal(byNode(result).validate?.status, 'running', 'left running, so a restart runs it again');
  t.notOk(h.changes.some((s) => s.status === 'failed' || s.status === 'skipped'));
});

t.test('a step record that cannot be written fails the run; the call is never repeated', async (t) => {
  const doc = { name: 'rec', start: 'a', nodes: { a: { function: 'm.a', retries: 3, retryDelayMs: 1 }, b: { function: 'm.a' } }, edges: [{ from: 'a', to: 'b' }] };
  let writes = 0;
  const h = harness(
    { 'm.a': () => 'x' },
    {
      onStep: (step) => {
        writes += 1;
        if (step.status === 'succeeded') throw new Error('disk full');
      },
    },
  );
  const result = await executeRun(compile(doc), {}, h.env);
  t.match(result, { status: 'failed', error: { type: 'RECORD_FAILED', step: 'a', message: /disk full/ } });
  t.equal(h.calls.length, 1, 'a was called once, b never');
  t.ok(writes > 0);
});

t.test('a failure ends the run cleanly: a sibling waiting to retry is marked failed, and the deadline does not hide the failure', async (t) => {
  const doc = {
    name: 'sib',
    start: 'a',
    nodes: { a: { function: 'm.a' }, b: { function: 'm.bad' }, c: { function: 'm.flaky', retries: 3, retryDelayMs: 50 } },
    edges: [
      { from: 'a', to: 'b' },
      { from: 'a', to: 'c' },
    ],
  };
  const h = harness({
    'm.a': (e) => e,
    'm.bad': async () => {
      await wait(10);
      throw Object.assign(new Error('no such module'), { code: 'MODULE_NOT_FOUND' });
    },
    'm.flaky': () => Promise.reject(Object.assign(new Error('crashed'), { code: 'INSTANCE_CRASHED' })),
  });
  const result = await executeRun(compile(doc), {}, h.env);
  t.match(result, { status: 'failed', error: { step: 'b' } });
  t.match(byNode(result).c, { status: 'failed', error: { type: 'INSTANCE_CRASHED' } }, 'not left running');

  const slow = harness(
    {
      'm.a': (e) => e,
      'm.bad': () => Promise.reject(Object.assign(new Error('bad'), { code: 'HANDLER_ERROR' })),
      'm.flaky': () => wait(400).then(() => 'late'),
    },
    { limits: { maxSteps: 10, maxRunMs: 150, maxDataBytes: 1000 } },
  );
  const failed = await executeRun(compile(doc), {}, slow.env);
  t.match(failed, { status: 'failed', error: { step: 'b' } }, 'the failure, not RUN_TIMEOUT');
  t.equal(byNode(failed).c?.status, 'timeout', 'the sibling abandoned at the deadline');
});
