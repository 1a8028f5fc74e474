import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { ulid } from 'ulid';
import { openStore } from '../../store/index.js';
import { eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { spawnDaemon } from '../helpers/daemon-child.js';
import { eachDriver } from '../helpers/drivers.js';

// Async jobs on a real SQLite file and real instances, on both drivers.

const SOURCE = `import time

def add(event, context):
    return {"sum": event["a"] + event["b"], "trigger": context["trigger"], "request_id": context["request_id"]}

def fails(event, context):
    print("failing now")
    raise KeyError("missing")

def nap(event, context):
    time.sleep(event.get("s", 0))
    return event.get("tag", "woke")

def big(event, context):
    print("x" * 5000)
    return "y" * event.get("n", 10)
`;

interface Job {
  id: string;
  status: string;
  result: unknown;
  error: { type: string; message: string; traceback: string } | null;
  logs: string | null;
  attempts: number;
  finishedAt: string | null;
  startedAt: string | null;
  queueMs: number | null;
  durationMs: number | null;
  coldStart: boolean | null;
  callback: { status: string; attempts: number; lastError?: string } | null;
}

const TERMINAL = new Set(['succeeded', 'failed', 'timeout', 'cancelled']);

async function submit(d: TestDaemon, module: string, fn: string, event: unknown, headers: Record<string, string> = {}): Promise<string> {
  const res = await d.request(`/async-function/${module}/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(event),
  });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

async function job(d: TestDaemon, id: string): Promise<Job> {
  return (await (await d.request(`/async/${id}`)).json()) as Job;
}

async function settled(d: TestDaemon, id: string, ms = 20_000): Promise<Job> {
  let last: Job | undefined;
  await eventually(async () => TERMINAL.has((last = await job(d, id)).status), ms, `job ${id} to end`);
  return last as Job;
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, {
    driver,
    env: { HEARTH_JOB_MAX_RESULT_BYTES: '2048', HEARTH_JOB_MAX_LOG_BYTES: '1024', HEARTH_JOB_CONCURRENCY: '4' },
  });
  t.equal((await d.deploy('jobs', SOURCE, { timeoutMs: 1500, maxInstances: 2 })).status, 201);

  t.test('submit → 202 with a sortable id → poll → the same result as a sync call', async (t) => {
    const res = await d.request('/async-function/jobs/add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a": 2, "b": 40}' });
    t.equal(res.status, 202);
    const accepted = (await res.json()) as { id: string; status: string; statusUrl: string };
    t.match(accepted, { id: /^[0-9A-HJKMNP-TV-Z]{26}$/, status: 'queued', statusUrl: `/async/${accepted.id}` });
    t.equal(res.headers.get('location'), accepted.statusUrl);
    const done = await settled(d, accepted.id);
    const sync = (await (await d.call('jobs', 'add', { a: 2, b: 40 })).json()) as { sum: number };
    t.match(done, { status: 'succeeded', result: { sum: sync.sum, trigger: 'async', request_id: accepted.id }, error: null, attempts: 1 });
    t.ok(done.startedAt !== null && done.finishedAt !== null && typeof done.queueMs === 'number' && typeof done.durationMs === 'number');
    t.equal(typeof done.coldStart, 'boolean');
  });

  t.test('a handler that raises ends failed with type, message, traceback and logs (not retried)', async (t) => {
    const done = await settled(d, await submit(d, 'jobs', 'fails', {}));
    t.match(done, { status: 'failed', attempts: 1, logs: 'failing now\n', error: { type: 'KeyError', message: "KeyError: 'missing'", traceback: /in fails/ } });
  });

  t.test('a call over timeoutMs ends as timeout', async (t) => {
    const done = await settled(d, await submit(d, 'jobs', 'nap', { s: 5 }));
    t.match(done, { status: 'timeout', error: { type: 'INVOCATION_TIMEOUT', message: /1500 ms/ } });
  });

  t.test('results over the limit fail clearly; long logs keep their end, marked', async (t) => {
    const tooBig = await settled(d, await submit(d, 'jobs', 'big', { n: 5000 }));
    t.match(tooBig, { status: 'failed', error: { type: 'ResultTooLarge', message: /over HEARTH_JOB_MAX_RESULT_BYTES \(2048\)/ } });
    t.match(tooBig.logs, /^\[hearth: logs truncated to the last 1024 bytes\]\n/);
    const fits = await settled(d, await submit(d, 'jobs', 'big', { n: 10 }));
    t.equal(fits.status, 'succeeded');
    t.equal(fits.result, 'yyyyyyyyyy');
  });

  t.test('cancel: a queued job is cancelled; a running or ended one is a 409; unknown ids 404, bad ids 400', async (t) => {
    const blockers = await Promise.all([1, 2].map(() => submit(d, 'jobs', 'nap', { s: 1 })));
    const queued = await submit(d, 'jobs', 'nap', { s: 0, tag: 'never' });
    const cancelled = await d.request(`/async/${queued}`, { method: 'DELETE' });
    t.equal(cancelled.status, 200);
    t.match(await cancelled.json(), { status: 'cancelled', result: null });
    await eventually(async () => (await job(d, blockers[0] as string)).status === 'running', 10_000, 'a blocker to run');
    const running = await d.request(`/async/${blockers[0]}`, { method: 'DELETE' });
    t.equal(running.status, 409);
    t.match(await running.json(), { error: { code: 'JOB_NOT_CANCELLABLE', status: 'running' } });
    await Promise.all(blockers.map((id) => settled(d, id)));
    t.equal((await job(d, queued)).status, 'cancelled', 'it never ran');
    t.equal((await d.request(`/async/${ulid()}`, { method: 'DELETE' })).status, 404);
    t.equal((await d.request('/async/not-an-id')).status, 400);
  });

  t.test('unknown module or function: 404 at submission, nothing stored', async (t) => {
    const res = await d.request('/async-function/nomodule/f', { method: 'POST' });
    t.equal(res.status, 404);
    t.equal((await d.request('/async-function/jobs/nope', { method: 'POST' })).status, 404);
  });

  t.test('list: newest first, filtered, paginated with a cursor', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await submit(d, 'jobs', 'add', { a: i, b: 0 }));
    await Promise.all(ids.map((id) => settled(d, id)));
    const page1 = (await (await d.request('/async?module=jobs&status=succeeded&limit=2')).json()) as { jobs: Job[]; nextCursor: string };
    t.same(page1.jobs.map((j) => j.id), [ids[2], ids[1]].sort().reverse(), 'the two newest');
    const page2 = (await (await d.request(`/async?module=jobs&status=succeeded&limit=2&cursor=${page1.nextCursor}`)).json()) as { jobs: Job[] };
    t.ok(page2.jobs.some((j) => j.id === ids[0]), 'the next page goes on from the cursor');
    t.equal((await d.request('/async?status=lost')).status, 400, 'unknown status');
  });

  t.test('callback: the final record is POSTed to X-Callback-Url, retried after a failure', async (t) => {
    const received: { body: Job; header: string | undefined }[] = [];
    let hits = 0;
    const receiver = createServer((req, res) => {
      hits += 1;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The first delivery fails: the sender must retry.
        if (hits === 1) return res.writeHead(500).end();
        received.push({ body: JSON.parse(Buffer.concat(chunks).toString()) as Job, header: req.headers['x-hearth-job-id'] as string });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
    const id = await submit(d, 'jobs', 'add', { a: 1, b: 1 }, { 'x-callback-url': url });
    await eventually(async () => received.length === 1, 15_000, 'the callback');
    t.match(received[0], { header: id, body: { id, status: 'succeeded', result: { sum: 2 } } });
    await eventually(async () => (await job(d, id)).callback?.status === 'delivered', 5000, 'delivery recorded');
    t.match((await job(d, id)).callback, { status: 'delivered', attempts: 2 });
    const bad = await d.request('/async-function/jobs/add', { method: 'POST', headers: { 'x-callback-url': 'file:///etc/passwd' } });
    t.equal(bad.status, 400);
    t.match(await bad.json(), { error: { code: 'CALLBACK_NOT_ALLOWED' } });
  });

  t.test('Prefer: respond-async, wait=N: a slow call turns into a 202 job; a quick one answers as usual', async (t) => {
    const slow = await d.request('/function/jobs/nap', {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async, wait=1' },
      body: '{"s": 1.4, "tag": "late"}',
    });
    t.equal(slow.status, 202);
    t.equal(slow.headers.get('preference-applied'), 'respond-async');
    const accepted = (await slow.json()) as { id: string; status: string };
    t.equal(accepted.status, 'running');
    t.match(await settled(d, accepted.id), { status: 'succeeded', result: 'late', attempts: 1 });
    const quick = await d.request('/function/jobs/nap', {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async, wait=5' },
      body: '{"s": 0, "tag": "now"}',
    });
    t.equal(quick.status, 200);
    t.same(await quick.json(), 'now');
    t.equal((await d.call('jobs', 'nap', { s: 0, tag: 'plain' })).status, 200, 'no header: a plain sync call');
  });

  t.test("fairness: one module's backlog does not starve another's single job", async (t) => {
    t.equal((await d.deploy('busy', SOURCE, { maxInstances: 2, minWarm: 2 })).status, 201);
    t.equal((await d.deploy('lonely', SOURCE, { minWarm: 1 })).status, 201);
    const backlog = await Promise.all(Array.from({ length: 30 }, () => submit(d, 'busy', 'nap', { s: 0.15 })));
    const single = await submit(d, 'lonely', 'nap', { s: 0 });
    const done = await settled(d, single);
    const finishedBefore = (await Promise.all(backlog.map((id) => job(d, id)))).filter(
      (j) => j.finishedAt !== null && j.finishedAt < (done.finishedAt as string),
    ).length;
    t.ok(finishedBefore < 10, `the single job ended after ${finishedBefore} of the 30 backlog jobs, not behind them all`);
    await Promise.all(backlog.map((id) => settled(d, id)));
  });
});

t.test('HEARTH_JOB_TTL: finished jobs are purged in the background', async (t) => {
  const d = await startDaemon(t, { driver: 'process', env: { HEARTH_JOB_TTL: '1s' } });
  t.equal((await d.deploy('ttl', SOURCE)).status, 201);
  const id = await submit(d, 'ttl', 'add', { a: 1, b: 2 });
  t.equal((await settled(d, id)).status, 'succeeded');
  await eventually(async () => (await d.request(`/async/${id}`)).status === 404, 10_000, 'the job to be purged');
});

t.test('a job left running by crashes past HEARTH_JOB_MAX_ATTEMPTS ends failed with the reason', async (t) => {
  const dataDir = await makeDataDir(t);
  const first = await startDaemon(t, { driver: 'process', dataDir, env: { HEARTH_JOB_MAX_ATTEMPTS: '2' } });
  t.equal((await first.deploy('crashy', SOURCE)).status, 201);
  await first.close();
  // What two crashes mid-run leave behind: a running row that used both attempts.
  const store = openStore(join(dataDir, 'hearth.db'));
  const id = ulid();
  store.jobs.addAll([{ id, module: 'crashy', function: 'add', payload: '{"event":{"a":1,"b":1},"context":{"trigger":"async","request_id":"r"}}', createdAt: Date.now(), callbackUrl: null, running: { startedAt: Date.now() } }]);
  store.db.prepare('UPDATE jobs SET attempts = 2 WHERE id = ?').run(id);
  const retried = ulid();
  store.jobs.addAll([{ id: retried, module: 'crashy', function: 'add', payload: '{"event":{"a":1,"b":1},"context":{"trigger":"async","request_id":"r"}}', createdAt: Date.now(), callbackUrl: null, running: { startedAt: Date.now() } }]);
  store.close();
  const second = await startDaemon(t, { driver: 'process', dataDir, env: { HEARTH_JOB_MAX_ATTEMPTS: '2' } });
  t.match(await job(second, id), { status: 'failed', attempts: 2, error: { type: 'TooManyAttempts', message: /stopped 2 times/ } });
  t.match(await settled(second, retried), { status: 'succeeded', attempts: 2, result: { sum: 2 } }, 'one attempt left: retried');
});

eachDriver(t, async (t, driver) => {
  t.test('SIGKILL of the daemon mid-run: after a restart every accepted job ends, none lost, none twice', async (t) => {
    const dataDir = await makeDataDir(t);
    const daemon = await spawnDaemon(t, { HEARTH_DRIVER: driver, HEARTH_DATA_DIR: dataDir }, 60_000);
    const url = daemon.url;
    const deploy = await daemon.deploy('durable', SOURCE, { maxInstances: 2, minWarm: 2 });
    t.equal(deploy.status, 201);
    const ids: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const res = await fetch(`${url}/async-function/durable/nap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ s: 0.1, tag: i }) });
      t.equal(res.status, 202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    // Half-way through the ~2 s of work.
    await eventually(async () => {
      const res = await fetch(`${url}/async?module=durable&status=succeeded&limit=500`);
      return ((await res.json()) as { jobs: unknown[] }).jobs.length >= 10;
    }, 20_000, 'some jobs to finish');
    await daemon.kill();

    const next = await startDaemon(t, { driver, dataDir });
    const ended = await Promise.all(ids.map((id) => settled(next, id, 60_000)));
    t.same(ended.map((j) => j.status), Array(40).fill('succeeded'), 'all 40 accepted jobs succeeded: none lost, none stuck');
    t.same(ended.map((j) => j.result), ids.map((_, i) => i), 'each with its own result');
    t.ok(ended.some((j) => j.attempts >= 1), 'attempts counted');
    const listed = (await (await next.request('/async?module=durable&limit=500')).json()) as { jobs: Job[] };
    t.equal(listed.jobs.length, 40, 'exactly one record per job');
  });
});
