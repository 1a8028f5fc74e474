import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { InvocationRecorder } from '../../../gateway/invocation-recorder.js';
import { openStore, type InvocationRow } from '../../../store/index.js';

const row = (n: number, module = 'm'): InvocationRow => ({
  id: `01${String(n).padStart(24, '0')}`,
  module,
  function: 'f',
  trigger: 'http',
  status: 'succeeded',
  httpStatus: 200,
  durationMs: 1,
  queueMs: 0,
  coldStart: false,
  instance: null,
  startedAt: n,
  endedAt: n,
  error: null,
  logs: '',
  source: null,
});

t.test('the recorder: batches, the count cap between purges, followers by module', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-rec-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'hearth.db'));
  t.teardown(() => store.close());
  const recorder = new InvocationRecorder(store.invocations, { flushMs: 10_000, maxBatch: 1000, ttlMs: 86_400_000, maxRecords: 10 }, pino({ level: 'silent' }));

  const seen: string[] = [];
  // Module names are user text: "newListener" must be an ordinary name here.
  const stop = recorder.follow('newListener', (r) => seen.push(r.id));
  const other = recorder.follow('m', () => undefined);
  other();
  for (let n = 1; n <= 25; n += 1) recorder.record(row(n, n === 3 ? 'newListener' : 'm'));
  t.same(store.invocations.list({ module: 'm', limit: 100 }), [], 'nothing written yet: the batch waits');
  t.same(seen, [row(3).id], 'followers get their module’s records at once');
  stop();
  recorder.record(row(26, 'newListener'));
  t.equal(seen.length, 1, 'unsubscribed');

  const all = recorder.list({ module: 'm', limit: 100 });
  t.equal(all.length + recorder.list({ module: 'newListener', limit: 100 }).length, 10, 'the count cap holds without waiting for the TTL purge');
  t.equal(all[0]?.id, row(25).id, 'the newest are kept');
  recorder.close();
});
