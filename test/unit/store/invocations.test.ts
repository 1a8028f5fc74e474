import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openStore, type InvocationRow } from '../../../store/index.js';

// The invocation records table on a real SQLite file: batches, pages, retention by age and count.

function row(id: string, endedAt: number, status = 'succeeded'): InvocationRow {
  return {
    id,
    module: 'm',
    function: 'f',
    trigger: 'http',
    status,
    httpStatus: status === 'succeeded' ? 200 : 500,
    durationMs: 1.5,
    queueMs: 0.1,
    coldStart: false,
    instance: 'i1',
    startedAt: endedAt - 2,
    endedAt,
    error: status === 'succeeded' ? null : { type: 'KeyError', message: 'x', traceback: 'tb' },
    logs: 'out',
    source: null,
  };
}

t.test('records: a batch in one go, newest first, filters, retention', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'hearth.db'));
  t.teardown(() => store.close());
  // ULID-shaped ids sort by time: A… oldest, E… newest.
  const ids = ['01A0000000000000000000000A', '01B0000000000000000000000B', '01C0000000000000000000000C', '01D0000000000000000000000D', '01E0000000000000000000000E'];
  store.invocations.addAll(ids.map((id, i) => row(id, 1000 * (i + 1), i === 2 ? 'handler_error' : 'succeeded')));
  store.invocations.addAll([row(ids[0] as string, 1)]);
  t.same(
    store.invocations.list({ module: 'm', limit: 10 }).map((r) => r.id),
    [...ids].reverse(),
    'newest first; a repeated id is ignored',
  );
  t.match(store.invocations.get(ids[2] as string), { status: 'handler_error', httpStatus: 500, error: { traceback: 'tb' }, coldStart: false });
  t.same(store.invocations.list({ module: 'm', status: 'handler_error', limit: 10 }).map((r) => r.id), [ids[2]]);
  t.same(store.invocations.list({ module: 'm', since: 2998, limit: 10 }).length, 3, 'since: started at or after');
  t.same(store.invocations.list({ module: 'm', limit: 2, before: ids[3] }).map((r) => r.id), [ids[2], ids[1]], 'the cursor');
  t.same(store.invocations.list({ module: 'other', limit: 10 }), []);

  t.equal(store.invocations.purge(1500, 100), 1, 'by age: the one that ended before the cutoff');
  t.equal(store.invocations.purge(0, 2), 2, 'by count: all but the newest two');
  t.same(store.invocations.list({ module: 'm', limit: 10 }).map((r) => r.id), [ids[4], ids[3]]);
  t.equal(store.invocations.purge(0, 2), 0, 'nothing more to do');
});
