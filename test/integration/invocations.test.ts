import { request as httpRequest } from 'node:http';
import { setTimeout } from 'node:timers/promises';
import t from 'tap';
import { ADMIN_TOKEN, eventually, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// Invocation records, call headers and live logs, on real instances and a real SQLite file.

const SOURCE = `import time

def hello(event, context):
    print("hello from", context["trigger"])
    return {"ok": True}

def fails(event, context):
    print("about to fail")
    raise KeyError("missing")

def tick(event, context):
    print("tick", event.get("n"))
    return event.get("n")
`;

interface Record_ {
  id: string;
  module: string;
  function: string;
  trigger: string;
  status: string;
  httpStatus: number;
  durationMs: number | null;
  queueMs: number | null;
  coldStart: boolean | null;
  instance: string | null;
  startedAt: string;
  endedAt: string;
  error: { type: string; message: string; traceback?: string } | null;
  logs: string;
  source: string | null;
}

const record = async (d: TestDaemon, id: string): Promise<Record_> => (await (await d.request(`/system/invocations/${id}`, { admin: true })).json()) as Record_;

/** Reads Server-Sent Events from the daemon until `until` is satisfied. */
function follow(url: string, until: (events: { event: string; data: unknown }[]) => boolean): { events: { event: string; data: unknown }[]; done: Promise<void>; ready: Promise<void> } {
  const events: { event: string; data: unknown }[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((resolve) => (ready = resolve));
  const done = new Promise<void>((resolve, reject) => {
    const req = httpRequest(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes(': following')) ready();
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) as unknown });
        }
        if (until(events)) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', (err) => (err.message.includes('aborted') || err.message.includes('socket hang up') ? resolve() : reject(err)));
    req.end();
  });
  return { events, done, ready: readyP };
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver, env: { HEARTH_INVOCATION_FLUSH_MS: '50' } });
  t.equal((await d.deploy('rec', SOURCE, { maxInstances: 2 })).status, 201);

  t.test('a cold and a warm call: headers and records', async (t) => {
    const cold = await d.call('rec', 'hello', {});
    t.equal(cold.status, 200);
    const coldId = cold.headers.get('x-hearth-call-id') as string;
    t.match(coldId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    t.equal(cold.headers.get('x-hearth-cold-start'), '1');
    t.match(cold.headers.get('x-hearth-duration-ms'), /^\d+(\.\d+)?$/);
    const warm = await d.call('rec', 'hello', {});
    t.equal(warm.headers.get('x-hearth-cold-start'), '0');
    const warmId = warm.headers.get('x-hearth-call-id') as string;
    t.not(warmId, coldId);

    const first = await record(d, coldId);
    t.match(first, { id: coldId, module: 'rec', function: 'hello', trigger: 'http', status: 'succeeded', httpStatus: 200, coldStart: true, error: null, source: null });
    t.match(first.logs, 'hello from http');
    t.ok(typeof first.durationMs === 'number' && typeof first.queueMs === 'number' && first.instance !== null);
    t.ok((first.queueMs as number) > 0, 'the cold call waited for its instance');
    t.ok(Date.parse(first.endedAt) >= Date.parse(first.startedAt));
    t.match(await record(d, warmId), { coldStart: false, status: 'succeeded' });

    const list = (await (await d.request('/system/modules/rec/invocations?limit=1', { admin: true })).json()) as { invocations: Record_[]; nextCursor: string };
    t.equal(list.invocations[0]?.id, warmId, 'newest first');
    const next = (await (await d.request(`/system/modules/rec/invocations?limit=1&cursor=${list.nextCursor}`, { admin: true })).json()) as { invocations: Record_[] };
    t.equal(next.invocations[0]?.id, coldId, 'the cursor pages on');
    const since = (await (await d.request(`/system/modules/rec/invocations?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { admin: true })).json()) as { invocations: unknown[] };
    t.same(since.invocations, [], 'since filters by start time');
    t.equal((await d.request('/system/modules/rec/invocations?since=yesterday', { admin: true })).status, 400);
    t.equal((await d.request(`/system/invocations/${coldId}`)).status, 401, 'admin token');
  });

  t.test("a failing call's record has the traceback and logs; other triggers are recorded too", async (t) => {
    const res = await d.call('rec', 'fails', {});
    t.equal(res.status, 500);
    const failed = await record(d, res.headers.get('x-hearth-call-id') as string);
    t.match(failed, { status: 'handler_error', httpStatus: 500, error: { type: 'KeyError', traceback: /raise KeyError\("missing"\)/ }, logs: /about to fail/ });
    const failures = (await (await d.request('/system/modules/rec/invocations?status=handler_error', { admin: true })).json()) as { invocations: Record_[] };
    t.same(failures.invocations.map((r) => r.function), ['fails']);

    const job = (await (await d.request('/async-function/rec/hello', { method: 'POST' })).json()) as { id: string };
    let found: Record_[] = [];
    await eventually(
      async () => {
        found = ((await (await d.request('/system/modules/rec/invocations', { admin: true })).json()) as { invocations: Record_[] }).invocations.filter((r) => r.trigger === 'async');
        return found.length === 1;
      },
      20_000,
      'the async call to be recorded',
    );
    t.match(found[0], { source: `job:${job.id}`, status: 'succeeded', logs: /hello from async/ });
  });

  t.test('live logs: a call\'s print() arrives on the stream within a second', async (t) => {
    const stream = follow(`${d.url}/system/modules/rec/logs?follow=1`, (events) => events.length >= 1);
    await stream.ready;
    t.equal((await d.call('rec', 'tick', { n: 7 })).status, 200);
    const late = setTimeout(1000, 'late');
    t.equal(await Promise.race([stream.done.then(() => 'delivered'), late]), 'delivered', 'on the stream within a second of the answer');
    t.match(stream.events[0], { event: 'call', data: { function: 'tick', status: 'succeeded', logs: 'tick 7\n' } });
    const recent = (await (await d.request('/system/modules/rec/logs?limit=2', { admin: true })).json()) as { logs: { function: string; logs: string }[] };
    t.match(recent.logs[0], { function: 'tick', logs: 'tick 7\n' }, 'without follow: the recent calls');
    t.equal((await d.request('/system/modules/ghost/logs', { admin: true })).status, 404);
  });

  t.test('per-module latency percentiles', async (t) => {
    const view = (await (await d.request('/system/modules/rec', { admin: true })).json()) as { latency: { calls: number; p50: number; p95: number; p99: number; windowMs: number } };
    t.ok(view.latency.calls >= 5);
    t.ok(view.latency.p50 <= view.latency.p95 && view.latency.p95 <= view.latency.p99);
    t.equal(view.latency.windowMs, 300_000);
  });

  t.test('a daemon shutting down ends open log streams instead of waiting out its grace for them', async (t) => {
    const stream = follow(`${d.url}/system/modules/rec/logs?follow=1`, (events) => events.some((e) => e.event === 'bye'));
    await stream.ready;
    const started = Date.now();
    await d.close();
    await stream.done;
    t.ok(
      stream.events.some((e) => e.event === 'bye'),
      'the stream said goodbye',
    );
    t.ok(Date.now() - started < 2500, `closed in ${Date.now() - started} ms, under the 3000 ms grace`);
  });
});
