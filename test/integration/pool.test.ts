import Docker from 'dockerode';
import { availableParallelism } from 'node:os';
import t from 'tap';
import { eventually, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// The warm pool on both drivers: instances are counted through the driver
// (the Docker API by label, or the process driver's live processes).

// INSTANCE is drawn once per process: it tells instances apart under either driver.
const SLEEPER = `import os, time
INSTANCE = os.urandom(8).hex()

def nap(event, context):
    time.sleep(event.get("s", 0))
    return {"pid": os.getpid(), "instance": INSTANCE}
`;

const running = async (d: TestDaemon, module: string): Promise<string[]> =>
  (await d.instances(module)).filter((c) => c.state === 'running').map((c) => c.id);

async function pool(d: TestDaemon, module: string): Promise<Record<string, unknown> & { byState: Record<string, number> }> {
  const record = (await (await d.request(`/system/modules/${module}`, { admin: true })).json()) as { pool: never };
  return record.pool;
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver });

  t.test('prewarm: minWarm instances start after deploy, and a call pays no cold start', async (t) => {
    t.equal((await d.deploy('warm', SLEEPER, { minWarm: 2 })).status, 201);
    await eventually(async () => (await pool(d, 'warm')).byState.idle === 2, 15_000, 'two idle instances');
    t.equal((await running(d, 'warm')).length, 2);
    const res = await d.call('warm', 'nap');
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-hearth-cold-start'), '0');
    t.match(await pool(d, 'warm'), { coldStarts: 2, served: 1 });
  });

  t.test('scale-out: a burst waits in the queue while up to maxInstances start, never more', async (t) => {
    t.equal((await d.deploy('burst', SLEEPER, { maxInstances: 3, concurrency: 1 })).status, 201);
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await d.instances('burst')).length);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const results = await Promise.all(Array.from({ length: 12 }, () => d.call('burst', 'nap', { s: 0.4 })));
    sampling = false;
    await sampler;
    t.same(results.map((r) => r.status), Array(12).fill(200), 'every call served');
    const hosts = new Set(await Promise.all(results.map(async (r) => ((await r.json()) as { instance: string }).instance)));
    t.equal(hosts.size, 3, 'spread over three instances');
    t.ok(peak <= 3, `peak containers ${peak} <= 3`);
    t.match(await pool(d, 'burst'), { coldStarts: 3, served: 12 });
  });

  t.test('scale to zero: idle instances stop after idleTimeoutMs; minWarm stays', async (t) => {
    t.equal((await d.deploy('sleepy_zero', SLEEPER, { idleTimeoutMs: 1000, maxInstances: 2 })).status, 201);
    await Promise.all([d.call('sleepy_zero', 'nap', { s: 0.3 }), d.call('sleepy_zero', 'nap', { s: 0.3 })]);
    t.equal((await running(d, 'sleepy_zero')).length, 2);
    const idleSince = Date.now();
    await eventually(async () => (await d.instances('sleepy_zero')).length === 0, 8000, 'no container');
    const took = Date.now() - idleSince;
    t.ok(took >= 900, `not before the idle timeout (${took} ms)`);
    t.ok(took < 3000, `within ~1 s of it (${took} ms)`);

    const scaled = await d.request('/system/modules/sleepy_zero/scale', {
      method: 'POST',
      admin: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ minWarm: 1 }),
    });
    t.equal(scaled.status, 200);
    await eventually(async () => (await running(d, 'sleepy_zero')).length === 1, 10_000, 'one warm instance');
    await Promise.all([d.call('sleepy_zero', 'nap', { s: 0.3 }), d.call('sleepy_zero', 'nap', { s: 0.3 })]);
    await eventually(async () => (await d.instances('sleepy_zero')).length === 1, 8000, 'back down to minWarm');
    t.equal((await running(d, 'sleepy_zero')).length, 1);
  });

  t.test('freeze/thaw: an idle instance is paused and thawed by the next call', async (t) => {
    t.equal((await d.deploy('frozen', SLEEPER, { pauseAfterMs: 300 })).status, 201);
    const first = (await (await d.call('frozen', 'nap')).json()) as { pid: number; host: string };
    await eventually(async () => (await d.instances('frozen'))[0]?.state === 'paused', 5000, 'the container to be paused');
    t.equal((await pool(d, 'frozen')).byState.paused, 1);
    const res = await d.call('frozen', 'nap');
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-hearth-cold-start'), '0', 'a thaw is not a cold start');
    t.same(await res.json(), first, 'the same process served it');
    t.equal((await d.instances('frozen'))[0]?.state, 'running');
  });

  t.test('backpressure: a full queue answers 429 with Retry-After', async (t) => {
    t.equal((await d.deploy('narrow', SLEEPER, { maxInstances: 1, concurrency: 1, maxQueue: 1, minWarm: 1 })).status, 201);
    await eventually(async () => (await pool(d, 'narrow')).byState.idle === 1, 10_000, 'a warm instance');
    const busy = d.call('narrow', 'nap', { s: 1 });
    await eventually(async () => (await pool(d, 'narrow')).byState.busy === 1, 5000, 'the instance to be busy');
    const queued = d.call('narrow', 'nap');
    await eventually(async () => (await pool(d, 'narrow')).queued === 1, 5000, 'one queued call');
    const refused = await d.call('narrow', 'nap');
    t.equal(refused.status, 429);
    t.equal(refused.headers.get('retry-after'), '1');
    t.match(await refused.json(), { error: { code: 'POOL_SATURATED' } });
    t.equal((await busy).status, 200);
    t.equal((await queued).status, 200, 'the queued call was served after');
    t.match(await pool(d, 'narrow'), { rejected: 1 });
  });

  t.test('healing: a killed instance is replaced up to minWarm', async (t) => {
    const [before] = await running(d, 'warm');
    const [victim] = (await d.instances('warm')).filter((i) => i.id === before);
    if (driver === 'docker') await new Docker().getContainer(before ?? '').kill();
    else process.kill(-(victim?.pid ?? 0), 'SIGKILL');
    await eventually(
      async () => {
        const now = await running(d, 'warm');
        return now.length === 2 && !now.includes(before ?? '');
      },
      15_000,
      'two running instances again, without the killed one',
    );
    t.pass('healed');
  });

  t.test('rolling update: new calls get the new code at once; old calls finish on the old one', async (t) => {
    const v1 = 'import time\n\ndef which(event, context):\n    time.sleep(event.get("s", 0))\n    return "v1"\n';
    t.equal((await d.deploy('rolling', v1)).status, 201);
    await d.call('rolling', 'which');
    const [old] = await d.instances('rolling');
    const inFlight = d.call('rolling', 'which', { s: 1.5 });
    await eventually(async () => (await pool(d, 'rolling')).byState.busy === 1, 5000, 'v1 busy');
    t.equal((await d.deploy('rolling', 'def which(event, context):\n    return "v2"\n')).status, 200);
    t.same(await (await d.call('rolling', 'which')).json(), 'v2', 'the next call runs v2');
    t.match(await pool(d, 'rolling'), { byState: { draining: 1 } });
    t.same(await (await inFlight).json(), 'v1', 'the in-flight call finished on v1');
    await eventually(async () => !(await d.instances('rolling')).some((c) => c.id === old?.id), 10_000, 'the v1 container to go');
  });

  t.test('admin scaling is validated', async (t) => {
    const scale = (module: string, body: unknown) =>
      d.request(`/system/modules/${module}/scale`, {
        method: 'POST',
        admin: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const negative = await scale('warm', { minWarm: -1 });
    t.equal(negative.status, 400);
    t.match(await negative.json(), { error: { message: 'body/minWarm must be >= 0' } });
    t.match(await (await scale('warm', { maxInstances: 1000 })).json(), { error: { message: 'body/maxInstances must be <= 256' } });
    t.match(await (await scale('warm', { concurrency: 1.5 })).json(), { error: { message: 'body/concurrency must be integer' } });
    t.match(await (await scale('warm', { memoryMb: 64 })).json(), { error: { message: 'body has an unknown field "memoryMb"' } });
    t.equal((await scale('warm', {})).status, 400, 'nothing to change');
    const crossed = await scale('warm', { minWarm: 5 });
    t.equal(crossed.status, 400);
    t.match(await crossed.json(), { error: { message: 'minWarm (5) must be <= maxInstances (4)' } });
    t.equal((await scale('nope', { minWarm: 1 })).status, 404);
    t.equal((await d.request('/system/modules/warm/scale', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"minWarm":1}' })).status, 401);
    const ok = await scale('warm', { minWarm: 1, idleTimeoutMs: 60_000 });
    t.equal(ok.status, 200);
    t.match(await ok.json(), { config: { minWarm: 1, idleTimeoutMs: 60_000, maxInstances: 4 }, pool: { settings: { minWarm: 1 } } });
  });

  t.test('GET /system/pools shows every pool', async (t) => {
    const overview = (await (await d.request('/system/pools', { admin: true })).json()) as {
      maxInstances: number;
      instances: number;
      starts: { concurrency: number; waiting: number };
      pools: { module: string; byState: Record<string, number>; queued: number; coldStarts: number; served: number }[];
    };
    t.equal(overview.maxInstances, 64);
    t.ok(overview.instances >= 1);
    t.match(overview.starts, { concurrency: availableParallelism(), waiting: 0 }, 'starts in turns, by default as many at once as there are CPUs');
    const warm = overview.pools.find((p) => p.module === 'warm');
    t.match(warm, { module: 'warm', queued: 0, byState: { starting: Number, idle: Number, busy: Number, paused: Number, draining: Number } });
  });

  t.test('HEARTH_MAX_INSTANCES caps instances across modules', async (t) => {
    const capped = await startDaemon(t, { driver, env: { HEARTH_MAX_INSTANCES: '2', HEARTH_START_CONCURRENCY: '1' } });
    t.equal((await capped.deploy('cap_a', SLEEPER, { minWarm: 2 })).status, 201);
    t.equal((await capped.deploy('cap_b', SLEEPER, { minWarm: 2 })).status, 201);
    await eventually(async () => (await capped.instances()).length === 2, 10_000, 'two containers');
    const call = capped.call('cap_b', 'nap');
    const overview = (await (await capped.request('/system/pools', { admin: true })).json()) as { instances: number; starts: { concurrency: number } };
    t.equal(overview.instances, 2);
    t.equal(overview.starts.concurrency, 1, 'HEARTH_START_CONCURRENCY applies');
    t.equal((await capped.instances()).length, 2, 'never more than the cap');
    await capped.request('/system/modules/cap_a', { method: 'DELETE', admin: true });
    t.equal((await call).status, 200, 'a freed unit lets the other module serve');
  });
});
