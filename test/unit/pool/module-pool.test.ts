import pino from 'pino';
import t, { type Test } from 'tap';
import { InstanceBudget } from '../../../pool/instance-budget.js';
import { ModulePool } from '../../../pool/module-pool.js';
import { StartGate } from '../../../pool/start-gate.js';
import type { PoolSettings } from '../../../pool/index.js';
import type { InstanceSpec } from '../../../pool/index.js';
import { eventually } from '../../helpers/eventually.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FakeDriver } from '../../helpers/fake-driver.js';

// ModulePool with a fake driver (in-process runtimes on real Unix sockets) and a fake clock.

const spec = (version = 'v1'): InstanceSpec => ({ module: 'm', version, image: `img:${version}`, memoryMb: 64, cpus: 1, pids: 64, network: false, env: {} });
const base: PoolSettings = {
  minWarm: 0,
  maxInstances: 3,
  concurrency: 1,
  idleTimeoutMs: 10_000,
  pauseAfterMs: 0,
  timeoutMs: 5000,
  maxQueue: 100,
  startTimeoutMs: 5000,
  stopGraceMs: 100,
};

function setup(t: Test, settings: Partial<PoolSettings> = {}, budget = new InstanceBudget(100), starts = new StartGate(100, 60_000)) {
  const driver = new FakeDriver();
  const clock = new FakeClock();
  const pool = new ModulePool(spec(), { ...base, ...settings }, { driver, clock, budget, starts, log: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await pool.close(100);
    await driver.cleanup();
  });
  return { driver, clock, pool, budget };
}

t.test('a burst of 20 calls starts maxInstances instances, not 20, and serves every call', async (t) => {
  const { driver, pool } = setup(t, { maxInstances: 3 });
  driver.behaviour = { callMs: 20 };
  const results = await Promise.all(Array.from({ length: 20 }, () => pool.invoke('f', '{}')));
  t.equal(driver.count('start'), 3);
  t.equal(new Set(results.map((r) => (r.reply.result as { instance: string }).instance)).size, 3);
  t.ok(results.every((r) => r.reply.ok));
  t.match(pool.snapshot(), { coldStarts: 3, served: 20, queued: 0, byState: { idle: 3 } });
});

t.test('the start gate: a burst starts its instances in turns, and the first takes calls before the last is created', async (t) => {
  const { driver, pool } = setup(t, { maxInstances: 4 }, new InstanceBudget(100), new StartGate(1, 60_000));
  driver.behaviour = { callMs: 5, startMs: 100 };
  const order: number[] = [];
  const calls = Array.from({ length: 12 }, (_, i) => pool.invoke('f', '{}').then((r) => (order.push(i), r)));
  t.equal(pool.snapshot().byState.starting, 4, 'all four count as starting at once, so the burst asks for no more');
  const results = await Promise.all(calls);
  await eventually(async () => pool.snapshot().byState.idle === 4, 3000, 'the starts still waiting for their turn are made');
  t.equal(driver.count('start'), 4);
  t.equal(driver.maxConcurrentStarts, 1, 'one engine start at a time');
  t.ok(results.every((r) => r.reply.ok), 'every call served');
  t.same(order.slice(0, 3), [0, 1, 2], 'waiting calls are served in order');
  t.ok(results.slice(0, 4).every((r) => r.reply.result !== null && (r.reply.result as { instance: string }).instance === 'fake-1'), 'the first instance served the first calls while the others were being created');
});

t.test('a start still waiting for its turn when its slot is drained is never made, and is no failure', async (t) => {
  const starts = new StartGate(1, 60_000);
  const budget = new InstanceBudget(100);
  const { driver, pool } = setup(t, { minWarm: 2 }, budget, starts);
  driver.behaviour = { startMs: 200 };
  t.equal(starts.waiting, 1, 'the second start waits for the first');
  pool.update(spec('v2'), { ...base, minWarm: 0 });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(starts.waiting, 0, 'dropped at once, not when the first start ends');
  t.equal(budget.inUse, 1, 'its unit of the daemon-wide budget is back at once; the start under way still holds one');
  await eventually(async () => pool.snapshot().instances.length === 0 && driver.count('kill') === 1, 2000, 'both gone');
  t.equal(driver.count('start v1'), 1, 'the waiting start was dropped before the driver saw it');
  t.equal(driver.count('kill'), 1, 'the one under way was removed once created');
  const res = await pool.invoke('f', '{}');
  t.match(res.reply.result, { version: 'v2' }, 'no start backoff: the next call starts at once');
});

t.test('concurrency: one instance takes up to `concurrency` calls at once', async (t) => {
  const { driver, pool } = setup(t, { maxInstances: 4, concurrency: 10 });
  driver.behaviour = { callMs: 20 };
  await Promise.all(Array.from({ length: 10 }, () => pool.invoke('f', '{}')));
  t.equal(driver.count('start'), 1, '10 calls, concurrency 10: one instance');
});

t.test('prewarm and healing to minWarm', async (t) => {
  const { driver, pool } = setup(t, { minWarm: 2 });
  await eventually(async () => pool.snapshot().byState.idle === 2, 2000, 'two warm');
  const res = await pool.invoke('f', '{}');
  t.equal(res.coldStart, false, 'a warm instance: no cold start');
  driver.crash(driver.running()[0] as string);
  await eventually(async () => pool.snapshot().byState.idle === 2 && driver.count('start') === 3, 2000, 'healed');
  t.pass();
});

t.test('scale to zero on the fake clock', async (t) => {
  const { driver, pool, clock } = setup(t, { idleTimeoutMs: 1000 });
  await pool.invoke('f', '{}');
  t.equal(driver.running().length, 1);
  clock.advance(999);
  t.equal(driver.count('stop'), 0, 'not before the deadline');
  clock.advance(2);
  await eventually(async () => driver.count('stop') === 1 && pool.snapshot().instances.length === 0, 2000, 'stopped');
  t.pass();
});

t.test('freeze after pauseAfterMs, thaw before the next call', async (t) => {
  const { driver, pool, clock } = setup(t, { pauseAfterMs: 100 });
  const first = await pool.invoke('f', '{}');
  clock.advance(101);
  await eventually(async () => driver.count('pause') === 1, 2000, 'paused');
  t.equal(pool.snapshot().byState.paused, 1);
  const second = await pool.invoke('f', '{}');
  t.same(driver.ops.slice(-2), [`pause ${first.instanceId}`, `unpause ${first.instanceId}`]);
  t.equal(second.instanceId, first.instanceId, 'the thawed instance served it');
  t.equal(second.coldStart, false);
});

t.test('a failed start is never reused and fails its waiting calls with the cause', async (t) => {
  const { driver, pool, clock } = setup(t);
  driver.behaviour = { failStart: 'exit' };
  const results = await Promise.allSettled([pool.invoke('f', '{}'), pool.invoke('f', '{}'), pool.invoke('f', '{}')]);
  for (const r of results) t.match(r, { status: 'rejected', reason: { code: 'INSTANCE_START_FAILED', message: /ImportError: boom \(m.py, line 1\)/ } });
  t.equal(driver.count('start'), 3, 'one start per waiting call at most: no retry loop');
  t.equal(pool.snapshot().instances.length, 0, 'nothing left in the pool');
  driver.behaviour = {};
  await t.rejects(pool.invoke('f', '{}'), { code: 'INSTANCE_START_FAILED' }, 'during the backoff a call fails fast');
  t.equal(driver.count('start'), 3, 'without another start');
  clock.advance(30_000);
  t.ok((await pool.invoke('f', '{}')).reply.ok, 'after the backoff a call starts a fresh instance');
});

t.test('a redeploy clears the backoff of a broken version', async (t) => {
  const { driver, pool } = setup(t);
  driver.behaviour = { failStart: 'exit' };
  await t.rejects(pool.invoke('f', '{}'));
  driver.behaviour = {};
  pool.update(spec('v2'), base);
  t.match((await pool.invoke('f', '{}')).reply.result, { version: 'v2' });
});

t.test('a start the driver refuses is reported too', async (t) => {
  const { driver, pool } = setup(t);
  driver.behaviour = { failStart: 'driver' };
  await t.rejects(pool.invoke('f', '{}'), { message: 'no such image' });
});

t.test('a full queue refuses with POOL_SATURATED', async (t) => {
  const { driver, pool } = setup(t, { maxInstances: 1, maxQueue: 3 });
  driver.behaviour = { callMs: 100 };
  // The instance is still starting, so all three wait: the queue is full.
  const calls = [pool.invoke('f', '{}'), pool.invoke('f', '{}'), pool.invoke('f', '{}')];
  await t.rejects(pool.invoke('f', '{}'), { code: 'POOL_SATURATED', details: { retryAfterSec: 1 } });
  t.equal((await Promise.all(calls)).length, 3, 'the queued calls are served');
  t.equal(pool.snapshot().rejected, 1);
});

t.test('a call that waits longer than timeoutMs in the queue gives up', async (t) => {
  const { driver, pool, clock } = setup(t, { maxInstances: 1, timeoutMs: 500 });
  driver.behaviour = { callMs: 300 };
  const first = pool.invoke('f', '{}');
  await eventually(async () => pool.snapshot().byState.busy === 1, 2000, 'busy');
  const second = pool.invoke('f', '{}');
  clock.advance(501);
  await t.rejects(second, { code: 'INVOCATION_TIMEOUT', message: /no instance became free within 500 ms/ });
  await first;
});

t.test('an update drains old instances after their calls; new calls start the new version', async (t) => {
  const { driver, pool } = setup(t);
  driver.behaviour = { callMs: 150 };
  const old = pool.invoke('f', '{}');
  await eventually(async () => pool.snapshot().byState.busy === 1, 2000, 'busy');
  pool.update(spec('v2'), base);
  t.equal(pool.snapshot().byState.draining, 1);
  const fresh = await pool.invoke('f', '{}');
  t.match(fresh.reply.result, { version: 'v2' });
  t.match((await old).reply.result, { version: 'v1' }, 'the in-flight call finished on v1');
  await eventually(async () => driver.count('stop') === 1, 2000, 'v1 stopped once idle');
});

t.test('the daemon-wide budget bounds starts and is given back', async (t) => {
  const budget = new InstanceBudget(1);
  const { driver, pool } = setup(t, { maxInstances: 3 }, budget);
  driver.behaviour = { callMs: 20 };
  await Promise.all([pool.invoke('f', '{}'), pool.invoke('f', '{}'), pool.invoke('f', '{}')]);
  t.equal(driver.count('start'), 1);
  t.equal(budget.headroom(), 0);
  await pool.close(100);
  await eventually(async () => budget.headroom() === 1, 2000, 'unit returned');
});

t.test('close fails queued calls, lets in-flight ones finish, removes every instance', async (t) => {
  const { driver, pool } = setup(t, { maxInstances: 1 });
  driver.behaviour = { callMs: 150 };
  const inFlight = pool.invoke('f', '{}');
  await eventually(async () => pool.snapshot().byState.busy === 1, 2000, 'busy');
  const queued = t.rejects(pool.invoke('f', '{}'), { code: 'SHUTTING_DOWN' }, 'the queued call is refused');
  await pool.close(2000);
  t.ok((await inFlight).reply.ok);
  await queued;
  t.same(driver.running(), []);
  await t.rejects(pool.invoke('f', '{}'), { code: 'SHUTTING_DOWN' });
});

t.test('closing while an instance is still being created removes it before close resolves', async (t) => {
  const { driver, pool } = setup(t, { minWarm: 2 });
  t.equal(pool.snapshot().byState.starting, 2, 'two starts under way');
  await pool.close(1000);
  t.same(driver.running(), [], 'nothing left running once close has resolved');
  t.equal(driver.count('kill'), 2, 'each was killed once the driver handed it over');
});

t.test('a redeploy while an instance is being created drains it the same way', async (t) => {
  const { driver, pool } = setup(t, { minWarm: 1 });
  pool.update(spec('v2'), { ...base, minWarm: 1 });
  await eventually(async () => pool.snapshot().byState.idle === 1 && driver.count('kill') === 1, 2000, 'v1 killed, v2 warm');
  t.match(pool.snapshot().instances, [{ current: true, state: 'idle' }]);
  t.equal(driver.running().length, 1);
});
