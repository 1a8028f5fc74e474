import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// Scheduled triggers: each tick is an async job through the same pools.

const SOURCE = `def tick(event, context):
    return {"n": event.get("n"), "trigger": context["trigger"], "cron": context["cron"]["schedule"]}
`;
const EVERY_SECOND = { type: 'cron', schedule: '* * * * * *', function: 'tick', event: { n: 7 } };

interface Job {
  id: string;
  status: string;
  trigger: string;
  result: { n: number; trigger: string; cron: string } | null;
}

const jobs = async (d: TestDaemon): Promise<Job[]> => ((await (await d.request('/async?module=ticker&limit=500')).json()) as { jobs: Job[] }).jobs;

eachDriver(t, async (t, driver) => {
  const dataDir = await makeDataDir(t);
  let d = await startDaemon(t, { driver, dataDir });

  t.test('bad triggers are refused at deploy, naming the field', async (t) => {
    const bad = await d.deploy('ticker', SOURCE, { triggers: [{ ...EVERY_SECOND, schedule: '61 * * * *' }] });
    t.equal(bad.status, 400);
    t.match(await bad.json(), { error: { message: /config\/triggers\/0\/schedule "61 \* \* \* \*" cannot be used: .*minute/ } });
    const zone = await d.deploy('ticker', SOURCE, { triggers: [{ ...EVERY_SECOND, timezone: 'Mars/Olympus' }] });
    t.equal(zone.status, 400);
    const fn = await d.deploy('ticker', SOURCE, { triggers: [{ ...EVERY_SECOND, function: 'tock' }] });
    t.equal(fn.status, 400);
    t.match(await fn.json(), { error: { message: /names a function the module does not define: tock \(it has tick\)/ } });
    t.equal((await d.deploy('ticker', SOURCE, { triggers: [{ ...EVERY_SECOND, type: 'file' }] })).status, 400);
  });

  t.test('a cron trigger fires on its schedule; each tick is a job with trigger cron', async (t) => {
    t.equal((await d.deploy('ticker', SOURCE, { triggers: [EVERY_SECOND] })).status, 201);
    let found: Job[] = [];
    await eventually(async () => (found = (await jobs(d)).filter((j) => j.status === 'succeeded')).length >= 2, 15_000, 'two ticks');
    t.match(found[0], { trigger: 'cron', result: { n: 7, trigger: 'cron', cron: '* * * * * *' } });
  });

  t.test('after a restart the schedule runs again; removing the trigger stops it', async (t) => {
    await d.close();
    d = await startDaemon(t, { driver, dataDir });
    const before = (await jobs(d)).length;
    await eventually(async () => (await jobs(d)).length > before + 1, 15_000, 'ticks after the restart');
    t.equal((await d.deploy('ticker', SOURCE, { triggers: [] })).status, 200);
    await sleep(1500);
    const settled = (await jobs(d)).length;
    await sleep(2000);
    t.equal((await jobs(d)).length, settled, 'no more ticks');
  });
});
