import t from 'tap';
import { eventually, makeDataDir, startDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// Persistence and lifecycle: modules survive a restart, a crashed run's
// containers are removed at the next start, shutdown removes every container.

const SOURCE = 'def hello(event, context):\n    return "still here"\n';

eachDriver(t, async (t, driver) => {
  t.test('after a restart every deployed module answers again, without a rebuild', async (t) => {
    const dataDir = await makeDataDir(t);
    const first = await startDaemon(t, { driver, dataDir });
    t.equal((await first.deploy('persist', SOURCE, { memoryMb: 96 })).status, 201);
    t.equal((await first.call('persist', 'hello')).status, 200);
    const scaled = await first.request('/system/modules/persist/scale', {
      method: 'POST',
      admin: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ idleTimeoutMs: 45_000 }),
    });
    t.equal(scaled.status, 200);
    await first.close();
    t.equal((await first.instances()).length, 0, 'a clean shutdown leaves no container');

    const second = await startDaemon(t, { driver, dataDir });
    t.equal(second.daemon.daemonId, first.daemon.daemonId, 'the daemon id is kept in the data dir');
    const call = await second.call('persist', 'hello');
    t.equal(call.status, 200);
    t.same(await call.json(), 'still here');
    const record = await (await second.request('/system/modules/persist', { admin: true })).json();
    t.match(record, { name: 'persist', functions: ['hello'], config: { memoryMb: 96, idleTimeoutMs: 45_000 } }, 'deploy config and a later scale both persist');
    const redeploy = (await (await second.deploy('persist', SOURCE)).json()) as { built: boolean };
    t.equal(redeploy.built, false, 'the build cache survives the restart too');
  });

  t.test('after a restart minWarm instances are started again without a call', async (t) => {
    const dataDir = await makeDataDir(t);
    const first = await startDaemon(t, { driver, dataDir });
    t.equal((await first.deploy('prewarmed', SOURCE, { minWarm: 2 })).status, 201);
    await first.close();
    const second = await startDaemon(t, { driver, dataDir });
    await eventually(async () => (await second.instances('prewarmed')).filter((c) => c.state === 'running').length === 2, 15_000, 'two containers');
    await eventually(
      async () => ((await (await second.request('/system/modules/prewarmed', { admin: true })).json()) as { pool: { byState: { idle: number } } }).pool.byState.idle === 2,
      15_000,
      'two healthy idle instances',
    );
    const res = await second.call('prewarmed', 'hello');
    t.equal(res.headers.get('x-hearth-cold-start'), '0');
  });

  t.test("containers a crashed run left behind are removed at start", async (t) => {
    const dataDir = await makeDataDir(t);
    const crashed = await startDaemon(t, { driver, dataDir });
    t.equal((await crashed.deploy('orphan', SOURCE)).status, 201);
    await crashed.call('orphan', 'hello');
    const left = await crashed.instances();
    t.equal(left.length, 1);
    // A crash: the HTTP server and database go away, the pool never removes its containers.
    await crashed.daemon.app.close();

    const next = await startDaemon(t, { driver, dataDir });
    const now = await next.instances();
    t.notOk(now.some((c) => c.id === left[0]?.id), "the crashed run's container is gone");
    if (driver === 'process') {
      // The crashed run's processes are still this test process's children: only the cleanup ends them.
      const pid = left[0]?.pid ?? 0;
      await eventually(async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 5000, "the crashed run's process to be killed");
    }
    t.equal((await next.call('orphan', 'hello')).status, 200);
  });

  t.test('shutdown lets an in-flight call finish, then removes the containers', async (t) => {
    const d = await startDaemon(t, { driver });
    t.equal((await d.deploy('slowish', 'import time\n\ndef nap(event, context):\n    time.sleep(1)\n    return "done"\n')).status, 201);
    await d.call('slowish', 'nap');
    const pending = d.call('slowish', 'nap');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closing = d.close();
    const res = await pending;
    t.equal(res.status, 200, 'the in-flight call completed');
    t.same(await res.json(), 'done');
    await closing;
    t.equal((await d.instances()).length, 0);
  });
});
