import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ADMIN_TOKEN, eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { spawnDaemon } from '../helpers/daemon-child.js';
import { eachDriver } from '../helpers/drivers.js';

// File triggers: an upload that matches becomes a job; what the call writes lands in the output bucket.

const SOURCE = `import os, time

def upper(event, context):
    src = context["input_file_path"]
    out = context["tmp_output_dir"]
    with open(src) as f:
        text = f.read()
    name = os.path.basename(src)
    with open(os.path.join(out, name + ".upper"), "w") as f:
        f.write(text.upper())
    os.makedirs(os.path.join(out, "meta"))
    with open(os.path.join(out, "meta", name + ".len"), "w") as f:
        f.write(str(len(text)))
    try:
        open(src, "a").close()
        writable = True
    except OSError:
        writable = False
    return {"size": event["size"], "key": event["key"], "trigger": context["trigger"], "input_writable": writable}

def broken(event, context):
    with open(os.path.join(context["tmp_output_dir"], "partial.txt"), "w") as f:
        f.write("half")
    raise RuntimeError("conversion failed")

def sneaky(event, context):
    out = context["tmp_output_dir"]
    with open(os.path.join(out, "ok.txt"), "w") as f:
        f.write("fine")
    os.symlink("/etc/hostname", os.path.join(out, "leak.txt"))
    os.symlink("/etc", os.path.join(out, "etc"))
    return "tried"

def slow(event, context):
    time.sleep(event.get("size", 0) / 10)
    with open(os.path.join(context["tmp_output_dir"], "done.txt"), "w") as f:
        f.write("done")
    return "slept"
`;

const TRIGGERS = [
  { type: 'file', bucket: 'in', prefix: 'docs/', suffix: '.txt', function: 'upper', output: 'out' },
  { type: 'file', bucket: 'in', suffix: '.bad', function: 'broken', output: 'out' },
  { type: 'file', bucket: 'in', suffix: '.sneak', function: 'sneaky', output: 'out' },
];

interface Job {
  id: string;
  status: string;
  trigger: string;
  result: Record<string, unknown> | null;
  error: { type: string; message: string } | null;
  outputs?: string[];
  attempts: number;
}

async function upload(request: (path: string, init?: RequestInit & { admin?: boolean }) => Promise<Response>, key: string, body: string): Promise<{ jobs: { id: string }[] }> {
  const res = await request(`/buckets/in/objects/${key}`, { method: 'PUT', admin: true, headers: { 'content-type': 'text/plain' }, body });
  if (res.status !== 201) throw new Error(`upload ${key}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { jobs: { id: string }[] };
}

async function ended(d: TestDaemon, id: string): Promise<Job> {
  let job: Job | undefined;
  await eventually(async () => ['succeeded', 'failed', 'timeout'].includes((job = (await (await d.request(`/async/${id}`)).json()) as Job).status), 30_000, `job ${id}`);
  return job as Job;
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver });
  for (const bucket of ['in', 'out']) t.equal((await d.request(`/buckets/${bucket}`, { method: 'PUT', admin: true })).status, 201);

  t.test('bad file triggers are refused at deploy', async (t) => {
    t.equal((await d.deploy('conv', SOURCE, { triggers: [{ ...TRIGGERS[0], output: 'in' }] })).status, 400, 'output = input would loop');
    t.equal((await d.deploy('conv', SOURCE, { triggers: [{ type: 'file', bucket: 'in', function: 'upper' }] })).status, 400, 'no output');
    t.equal((await d.deploy('conv', SOURCE, { triggers: [{ ...TRIGGERS[0], schedule: '* * * * *' }] })).status, 400, 'a cron field');
    t.equal((await d.deploy('conv', SOURCE, { triggers: [{ ...TRIGGERS[0], output: 'Bad_Name' }] })).status, 400);
  });

  t.test('a matching upload is processed; the outputs land under the input key’s folder', async (t) => {
    t.equal((await d.deploy('conv', SOURCE, { triggers: TRIGGERS, maxInstances: 2 })).status, 201);
    const { jobs } = await upload(d.request, 'docs/a.txt', 'hello files');
    t.equal(jobs.length, 1);
    const job = await ended(d, (jobs[0] as { id: string }).id);
    t.match(job, { status: 'succeeded', trigger: 'file', result: { size: 11, key: 'docs/a.txt', trigger: 'file', input_writable: false } });
    t.same([...(job.outputs ?? [])].sort(), ['out/docs/a.txt.upper', 'out/docs/meta/a.txt.len']);
    t.equal(await (await d.request('/buckets/out/objects/docs/a.txt.upper', { admin: true })).text(), 'HELLO FILES');
    t.equal(await (await d.request('/buckets/out/objects/docs/meta/a.txt.len', { admin: true })).text(), '11');
    t.same((await upload(d.request, 'docs/b.csv', 'x')).jobs, [], 'the suffix does not match');
    t.same((await upload(d.request, 'other/c.txt', 'x')).jobs, [], 'the prefix does not match');
    const filesDir = join(d.dataDir, 'files', 'conv');
    await eventually(async () => (await readdir(filesDir)).length === 0, 5000, 'the call folders to be removed');
  });

  t.test('links a function leaves in its output folder are not followed', async (t) => {
    const { jobs } = await upload(d.request, 's/x.sneak', 'x');
    const job = await ended(d, (jobs[0] as { id: string }).id);
    t.match(job, { status: 'succeeded', outputs: ['out/s/ok.txt'] });
    t.equal((await d.request('/buckets/out/objects/s/leak.txt', { admin: true })).status, 404);
  });

  t.test('a failing call stores nothing and records the error', async (t) => {
    const { jobs } = await upload(d.request, 'x.bad', 'boom');
    const job = await ended(d, (jobs[0] as { id: string }).id);
    t.match(job, { status: 'failed', error: { type: 'RuntimeError', message: /conversion failed/ } });
    t.notOk(job.outputs, 'no outputs');
    t.equal((await d.request('/buckets/out/objects/partial.txt', { admin: true })).status, 404);
  });
});

eachDriver(t, async (t, driver) => {
  t.test('a crash between upload and processing: after a restart the file is still processed', async (t) => {
    const dataDir = await makeDataDir(t);
    const child = await spawnDaemon(t, { HEARTH_DRIVER: driver, HEARTH_DATA_DIR: dataDir }, 60_000);
    const request = (path: string, init: RequestInit & { admin?: boolean } = {}): Promise<Response> =>
      fetch(`${child.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });
    for (const bucket of ['in', 'out']) t.equal((await request(`/buckets/${bucket}`, { method: 'PUT' })).status, 201);
    t.equal((await child.deploy('later', SOURCE, { triggers: [{ type: 'file', bucket: 'in', function: 'slow', output: 'out' }] })).status, 201);
    // 40 bytes: the function sleeps 4 s, long enough to be killed in the middle.
    const { jobs } = await upload(request, 'big/file.dat', 'x'.repeat(40));
    const id = (jobs[0] as { id: string }).id;
    await eventually(async () => ((await (await request(`/async/${id}`)).json()) as Job).status === 'running', 30_000, 'the job to start');
    await child.kill();

    const d = await startDaemon(t, { driver, dataDir });
    const job = await ended(d, id);
    t.match(job, { status: 'succeeded', attempts: 2, outputs: ['out/big/done.txt'] });
    t.equal(await (await d.request('/buckets/out/objects/big/done.txt', { admin: true })).text(), 'done');
  });
});
