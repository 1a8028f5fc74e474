import t from 'tap';
import { eventually, startDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';
import { parsePrometheus, total, type Sample } from '../helpers/prometheus.js';

// GET /metrics, parsed, moving with real calls of every trigger.

const SOURCE = `def ok(event, context):
    return {"trigger": context["trigger"]}

def bad(event, context):
    raise RuntimeError("no")
`;

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver });
  t.equal((await d.deploy('meter', SOURCE)).status, 201);
  const scrape = async (): Promise<Sample[]> => {
    const res = await d.request('/metrics');
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  };
  const before = await scrape();
  t.equal(total(before, 'hearth_calls_total', { module: 'meter' }), 0, 'no calls yet');
  t.ok(total(before, 'hearth_process_resident_memory_bytes') > 0, 'process metrics');

  t.equal((await d.call('meter', 'ok', {})).status, 200);
  t.equal((await d.call('meter', 'ok', {})).status, 200);
  t.equal((await d.call('meter', 'bad', {})).status, 500);
  const accepted = (await (await d.request('/async-function/meter/ok', { method: 'POST' })).json()) as { id: string };
  await eventually(async () => ((await (await d.request(`/async/${accepted.id}`)).json()) as { status: string }).status === 'succeeded', 20_000, 'the job');
  const flow = { name: 'meterflow', start: 'a', nodes: { a: { function: 'meter.ok' } }, edges: [] };
  t.equal((await d.request('/workflows/meterflow', { method: 'PUT', admin: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(flow) })).status, 201);
  t.equal((await d.request('/workflows/meterflow/run', { method: 'POST' })).status, 200);

  const after = await scrape();
  t.equal(total(after, 'hearth_calls_total', { module: 'meter', function: 'ok', status: 'succeeded', trigger: 'http' }), 2);
  t.equal(total(after, 'hearth_calls_total', { module: 'meter', function: 'bad', status: 'handler_error', trigger: 'http' }), 1);
  t.equal(total(after, 'hearth_calls_total', { module: 'meter', status: 'succeeded', trigger: 'async' }), 1);
  t.equal(total(after, 'hearth_calls_total', { module: 'meter', status: 'succeeded', trigger: 'workflow' }), 1);
  t.equal(total(after, 'hearth_call_duration_seconds_count', { module: 'meter' }), 5, 'every call that reached its handler has a duration');
  t.ok(total(after, 'hearth_call_duration_seconds_bucket', { module: 'meter', function: 'ok', trigger: 'http', le: '+Inf' }) === 2);
  t.ok(total(after, 'hearth_cold_starts_total', { module: 'meter' }) >= 1, 'the first call was cold');
  t.equal(total(after, 'hearth_cold_start_seconds_count', { module: 'meter' }), total(after, 'hearth_cold_starts_total', { module: 'meter' }), 'each cold start has a duration');
  t.ok(total(after, 'hearth_cold_start_seconds_sum', { module: 'meter' }) > 0);
  t.equal(total(after, 'hearth_builds_total', { module: 'meter', result: 'succeeded' }), 1, 'the deploy built once');
  t.equal(total(after, 'hearth_build_duration_seconds_count', { result: 'succeeded' }), 1);
  t.ok(total(after, 'hearth_instances', { module: 'meter' }) >= 1, 'instances by state');
  t.equal(total(after, 'hearth_queue_depth', { module: 'meter' }), 0);
  t.equal(total(after, 'hearth_jobs', { status: 'succeeded' }), 1);
});
