import t from 'tap';
import { StartGate } from '../../../pool/start-gate.js';

// The daemon-wide gate on instance starts: at most `concurrency` at once, in arrival order, and a start nobody wants any more is dropped.

function deferred(): { promise: Promise<string>; resolve: (value: string) => void } {
  let resolve!: (value: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('runs at most `concurrency` starts at once, in arrival order', async (t) => {
  const gate = new StartGate(2);
  const begun: number[] = [];
  const finish = [deferred(), deferred(), deferred(), deferred()];
  const runs = finish.map((d, i) =>
    gate.run(
      () => {
        begun.push(i);
        return d.promise;
      },
      () => true,
    ),
  );
  await Promise.resolve();
  t.same(begun, [0, 1], 'two begin, two wait');
  t.equal(gate.waiting, 2);
  finish[1]!.resolve('b');
  t.equal(await runs[1], 'b');
  await Promise.resolve();
  t.same(begun, [0, 1, 2], 'a freed turn goes to the oldest waiting start');
  finish[0]!.resolve('a');
  finish[2]!.resolve('c');
  await Promise.all([runs[0], runs[2]]);
  await Promise.resolve();
  t.same(begun, [0, 1, 2, 3]);
  finish[3]!.resolve('d');
  t.same(await Promise.all(runs), ['a', 'b', 'c', 'd']);
});

t.test('a start no longer wanted when its turn comes is never run', async (t) => {
  const gate = new StartGate(1);
  const first = deferred();
  let wanted = true;
  let ran = false;
  const running = gate.run(() => first.promise, () => true);
  const dropped = gate.run(
    async () => {
      ran = true;
      return 'x';
    },
    () => wanted,
  );
  wanted = false;
  first.resolve('done');
  await running;
  await t.rejects(dropped, { code: 'START_CANCELLED' });
  t.equal(ran, false);
});

t.test('a failed start frees its turn', async (t) => {
  const gate = new StartGate(1);
  await t.rejects(gate.run(() => Promise.reject(new Error('no such image')), () => true), { message: 'no such image' });
  t.equal(await gate.run(async () => 'next', () => true), 'next');
});
