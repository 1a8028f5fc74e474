import t from 'tap';
import { newInstanceRecord, type InstanceRecord, type InstanceState } from '../../../pool/instance-state.js';
import { decide, type ScalingSettings } from '../../../pool/scaling-policy.js';

const settings: ScalingSettings = { minWarm: 0, maxInstances: 4, concurrency: 1, idleTimeoutMs: 1000, pauseAfterMs: 0 };
let next = 0;
const inst = (state: InstanceState, lastUsedAt = 0, inFlight = state === 'busy' ? 1 : 0): InstanceRecord => ({
  ...newInstanceRecord(`i${(next += 1)}`, 'v', 0),
  state,
  lastUsedAt,
  inFlight,
});
const view = (instances: InstanceRecord[], waiting = 0, globalHeadroom = 100, startBackoffUntil = 0) => ({
  instances,
  waiting,
  globalHeadroom,
  startBackoffUntil,
});

t.test('scale-out: the waiting demand, less what is already starting', async (t) => {
  const cases: [string, ReturnType<typeof view>, Partial<ScalingSettings>, number][] = [
    ['nothing waiting, nothing to start', view([]), {}, 0],
    ['one call, no instance: a cold start', view([], 1), {}, 1],
    ['a burst of 50 starts up to maxInstances, not 50', view([], 50), {}, 4],
    ['burst while 4 are starting: none more', view([inst('starting'), inst('starting'), inst('starting'), inst('starting')], 50), {}, 0],
    ['3 waiting, 1 starting: 2 more', view([inst('starting')], 3), {}, 2],
    ['concurrency 10: 25 waiting need 3', view([], 25), { concurrency: 10 }, 3],
    ['concurrency 10: 1 starting absorbs 10 of 12', view([inst('starting')], 12), { concurrency: 10, maxInstances: 8 }, 1],
    ['busy instances do not absorb the queue', view([inst('busy'), inst('busy')], 2), {}, 2],
    ['the daemon-wide cap bounds it', view([], 10, 2), {}, 2],
    ['no headroom at all', view([], 10, 0), {}, 0],
    ['draining instances do not count as live', view([inst('draining'), inst('draining'), inst('draining'), inst('draining')], 2), {}, 2],
  ];
  for (const [name, v, s, start] of cases) t.equal(decide(v, { ...settings, ...s }, 10).start, start, name);
});

t.test('prewarm: minWarm instances are kept started', async (t) => {
  t.equal(decide(view([]), { ...settings, minWarm: 2 }, 0).start, 2);
  t.equal(decide(view([inst('idle')]), { ...settings, minWarm: 2 }, 0).start, 1, 'heals after a loss');
  t.equal(decide(view([inst('starting'), inst('idle')]), { ...settings, minWarm: 2 }, 0).start, 0);
  t.equal(decide(view([]), { ...settings, minWarm: 6 }, 0).start, 4, 'never above maxInstances');
  t.equal(decide(view([], 0, 100, 500), { ...settings, minWarm: 2 }, 100).start, 0, 'backs off after failed starts');
  t.equal(decide(view([], 0, 100, 500), { ...settings, minWarm: 2 }, 100).wakeAt, 500, 'and retries when the backoff ends');
  t.equal(decide(view([], 3, 100, 500), { ...settings, minWarm: 2 }, 100).start, 3, 'calls are not held back by the backoff');
});

t.test('scale to zero: idle past idleTimeoutMs above minWarm', async (t) => {
  const idleOld = inst('idle', 0);
  const idleNew = inst('idle', 900);
  const d = decide(view([idleOld, idleNew]), settings, 1000);
  t.same(d.drain, [idleOld.id], 'only the one idle for 1000 ms');
  t.equal(d.wakeAt, 1900, 'and wakes when the next one is due');
  t.same(decide(view([idleOld, idleNew]), settings, 1900).drain, [idleOld.id, idleNew.id], 'down to zero');
  t.same(decide(view([idleOld, idleNew]), { ...settings, minWarm: 1 }, 5000).drain, [idleOld.id], 'not below minWarm: the longest idle goes');
  t.same(decide(view([idleOld]), { ...settings, minWarm: 1 }, 5000).wakeAt, undefined, 'at minWarm nothing is due');
  t.same(decide(view([idleOld], 1), settings, 5000).drain, [], 'nothing stops while calls wait');
  t.same(decide(view([inst('busy', 0)]), settings, 5000).drain, [], 'busy instances are never idle');
  const paused = inst('paused', 0);
  t.same(decide(view([paused]), settings, 1000).drain, [paused.id], 'paused ones are stopped too');
});

t.test('lowering maxInstances drains the excess, resting ones first', async (t) => {
  const idle = inst('idle', 500);
  const busy1 = inst('busy');
  const busy2 = inst('busy');
  t.same(decide(view([busy1, idle, busy2]), { ...settings, maxInstances: 2 }, 600).drain, [idle.id]);
  t.same(decide(view([busy1, idle, busy2]), { ...settings, maxInstances: 1 }, 600).drain, [idle.id, busy1.id]);
});

t.test('freeze: idle instances are paused after pauseAfterMs', async (t) => {
  const s = { ...settings, pauseAfterMs: 100, idleTimeoutMs: 10_000 };
  const a = inst('idle', 0);
  const b = inst('idle', 50);
  const d = decide(view([a, b]), s, 120);
  t.same(d.pause, [a.id]);
  t.equal(d.wakeAt, 150, 'wakes for the next pause');
  t.same(decide(view([inst('paused', 0)]), s, 120).pause, [], 'already paused');
  t.same(decide(view([a]), { ...s, pauseAfterMs: 0 }, 5000).pause, [], '0 never pauses');
  t.same(decide(view([a]), { ...s, minWarm: 1 }, 120).pause, [a.id], 'warm instances pause too (they are thawed on demand)');
});
