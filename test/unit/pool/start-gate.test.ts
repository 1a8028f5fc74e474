import t from 'tap';
import { StartGate } from '../../../pool/start-gate.js';

// The daemon-wide gate on instance starts: at most `concurrency` at once, in
// arrival order; a start nobody wants any more is dropped while it waits, and
// one that takes too long gives its turn away without being abandoned.

function deferred(): { promise: Promise<string>; resolve: (value: string) => void } {
  let resolve!: (value: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

const wanted = (): AbortSignal => new AbortController().signal;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('runs at most `concurrency` starts at once, in arrival order', async (t) => {
  const gate = new StartGate(2, 60_000);
  const begun: number[] = [];
  const finish = [deferred(), deferred(), deferred(), deferred()];
  const runs = finish.map((d, i) =>
    gate.run(() => {
      begun.push(i);
      return d.promise;
    }, wanted()),
  );
  t.same(begun, [0, 1], 'two begin, two wait');
  t.equal(gate.waiting, 2);
  finish[1]!.resolve('b');
  t.equal(await runs[1], 'b');
  await tick();
  t.same(begun, [0, 1, 2], 'a freed turn goes to the oldest waiting start');
  finish[0]!.resolve('a');
  finish[2]!.resolve('c');
  await Promise.all([runs[0], runs[2]]);
  await tick();
  t.same(begun, [0, 1, 2, 3]);
  finish[3]!.resolve('d');
  t.same(await Promise.all(runs), ['a', 'b', 'c', 'd']);
});

t.test('a waiting start whose signal aborts is dropped at once, without waiting for the one under way', async (t) => {
  const gate = new StartGate(1, 60_000);
  const first = deferred();
  const controller = new AbortController();
  let ran = false;
  const running = gate.run(() => first.promise, wanted());
  const dropped = gate.run(async () => {
    ran = true;
    return 'x';
  }, controller.signal);
  controller.abort();
  await t.rejects(dropped, { code: 'START_CANCELLED' }, 'rejected while the first is still under way');
  t.equal(gate.waiting, 0);
  first.resolve('done');
  t.equal(await running, 'done');
  t.equal(ran, false, 'never run');
  t.equal(await gate.run(async () => 'next', wanted()), 'next', 'and the turn it held in the queue is not lost');
  const aborted = new AbortController();
  aborted.abort();
  await t.rejects(gate.run(async () => 'y', aborted.signal), { code: 'START_CANCELLED' }, 'already aborted: never queued');
});

t.test('aborting a start once begun changes nothing: it runs to its end', async (t) => {
  const gate = new StartGate(1, 60_000);
  const controller = new AbortController();
  const start = deferred();
  const run = gate.run(() => start.promise, controller.signal);
  controller.abort();
  start.resolve('made');
  t.equal(await run, 'made', 'its container is handed over, so the pool can remove it');
});

t.test('a start over the turn limit gives its turn to the next and still delivers its own result', async (t) => {
  const gate = new StartGate(1, 50);
  const hung = deferred();
  const slow = gate.run(() => hung.promise, wanted());
  const started = Date.now();
  t.equal(await gate.run(async () => 'next', wanted()), 'next', 'the next start ran while the first hung');
  t.ok(Date.now() - started >= 40, 'after the limit');
  hung.resolve('late');
  t.equal(await slow, 'late');
  t.equal(await gate.run(async () => 'after', wanted()), 'after', 'no turn counted twice');
  t.equal(gate.waiting, 0);
});

t.test('a failed start, or one that throws, frees its turn', async (t) => {
  const gate = new StartGate(1, 60_000);
  await t.rejects(gate.run(() => Promise.reject(new Error('no such image')), wanted()), { message: 'no such image' });
  await t.rejects(
    gate.run(() => {
      throw new Error('thrown');
    }, wanted()),
    { message: 'thrown' },
  );
  t.equal(await gate.run(async () => 'next', wanted()), 'next');
});
