import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { RuntimeConnection } from '../../../pool/runtime-connection.js';
import { findRuntimeFile } from '../../../runtimes/index.js';

// The Python runtime itself (runtimes/python/hearth_runtime.py) on its Unix
// socket, run as a local process: multiplexed calls on one connection run at
// once and are answered by token, plain requests keep their order.

const MODULE = `import threading

gate = threading.Event()


def wait(event, context):
    print("waiting")
    return {"released": gate.wait(10)}


def release(event, context):
    print("releasing")
    gate.set()
    return {"n": event.get("n")}


def boom(event, context):
    raise ValueError("no")

barrier = threading.Barrier(4)


def meet(event, context):
    barrier.wait(10)
    return True


def threads(event, context):
    return threading.active_count()


class Halt(BaseException):
    pass


def halt(event, context):
    raise Halt("stop here")


def nested(event, context):
    value = []
    for _ in range(event["depth"]):
        value = [value]
    return value


class Weird(dict):
    def items(self):
        raise KeyError("no items")


def weird(event, context):
    return Weird(a=1)


async def cancelled(event, context):
    import asyncio

    task = asyncio.ensure_future(asyncio.sleep(1))
    await asyncio.sleep(0)
    task.cancel()
    await task
`;

async function runtime(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-rt-'));
  await mkdir(join(dir, 'code'));
  await writeFile(join(dir, 'code', 'gates.py'), MODULE);
  const socket = join(dir, 'fn.sock');
  const child = spawn('python3', [findRuntimeFile(), 'serve', '--code', join(dir, 'code'), '--module', 'gates', '--socket', socket], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.teardown(async () => {
    child.kill('SIGKILL');
    if (child.exitCode === null) await once(child, 'exit');
    await rm(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 500; i += 1) {
    if (await access(socket).then(() => true, () => false)) return socket;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the runtime did not open its socket');
}

function connection(t: Test, socket: string, multiplexed: boolean): RuntimeConnection {
  const client = new RuntimeConnection(socket, () => undefined, multiplexed);
  t.teardown(() => client.destroy());
  return client;
}

const invoke = (fn: string, body: object): [string, string] => {
  const text = JSON.stringify({ event: body, context: {} });
  return [`POST /invoke/${fn} HTTP/1.1\r\nHost: hearth\r\nContent-Length: ${Buffer.byteLength(text)}\r\n`, text];
};

const json = (body: Buffer): Record<string, unknown> => JSON.parse(body.toString('utf8')) as Record<string, unknown>;

t.test('the health check says the runtime multiplexes', async (t) => {
  const plain = connection(t, await runtime(t), false);
  const reply = await plain.send('GET /healthz HTTP/1.1\r\nHost: hearth\r\n');
  t.equal(reply.status, 200);
  t.equal(reply.headers.get('x-hearth-multiplex'), '1');
  t.match(json(reply.body), { ok: true, module: 'gates', runtime: '4', functions: ['boom', 'cancelled', 'halt', 'meet', 'nested', 'release', 'threads', 'wait', 'weird'] });
});

t.test('calls on one connection run at once: one waits for a second that comes after it on the same connection', async (t) => {
  const client = connection(t, await runtime(t), true);
  const order: string[] = [];
  // Both written in one turn (one write); were they run one after another, `wait` would give up after 10 s.
  const waiting = client.send(...invoke('wait', {})).then((reply) => (order.push('wait'), reply));
  const releasing = client.send(...invoke('release', { n: 7 })).then((reply) => (order.push('release'), reply));
  const [waited, released] = await Promise.all([waiting, releasing]);
  t.same(order, ['release', 'wait'], 'replies come as calls end, not in request order');
  t.match(json(waited.body), { ok: true, result: { released: true }, logs: 'waiting\n' }, 'each call keeps its own output');
  t.match(json(released.body), { ok: true, result: { n: 7 }, logs: 'releasing\n' });
  t.not(waited.headers.get('x-hearth-call'), released.headers.get('x-hearth-call'));
  t.match(json((await client.send(...invoke('boom', {}))).body), { ok: false, error: { type: 'ValueError', message: 'no' } }, 'a failing handler is an answer too');
});

t.test('a bad token is refused and ends the connection; the runtime goes on serving', async (t) => {
  const socket = await runtime(t);
  const plain = connection(t, socket, false);
  const refused = await plain.send('GET /healthz HTTP/1.1\r\nHost: hearth\r\nX-Hearth-Call: no/good\r\n');
  t.equal(refused.status, 400);
  t.match(json(refused.body), { error: { message: /X-Hearth-Call must be 1-32 letters or digits/ } });
  t.equal(plain.usable, false, 'Connection: close');
  t.equal((await connection(t, socket, false).send(...invoke('release', { n: 1 }))).status, 200);
});

t.test('a connection closed with a call still running leaves the runtime serving', async (t) => {
  const socket = await runtime(t);
  const first = connection(t, socket, true);
  const abandoned = first.send(...invoke('wait', {}));
  abandoned.catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 50));
  first.destroy();
  await t.rejects(abandoned);
  const second = connection(t, socket, true);
  t.match(json((await second.send(...invoke('release', { n: 2 }))).body), { ok: true, result: { n: 2 } });
  t.equal((await second.send('GET /healthz HTTP/1.1\r\nHost: hearth\r\n')).status, 200, 'a multiplexed health check');
});

t.test('a handler raising outside Exception (a cancelled task, a BaseException) still gets an answer, plain or multiplexed', async (t) => {
  const socket = await runtime(t);
  for (const multiplexed of [false, true]) {
    const client = connection(t, socket, multiplexed);
    t.match(json((await client.send(...invoke('halt', {}))).body), { ok: false, error: { type: 'Halt', message: 'stop here' } }, `multiplexed: ${multiplexed}`);
    t.match(json((await client.send(...invoke('cancelled', {}))).body), { ok: false, error: { type: 'CancelledError' } }, `multiplexed: ${multiplexed}`);
    t.match(json((await client.send(...invoke('release', { n: 3 }))).body), { ok: true, result: { n: 3 } }, 'the connection goes on');
  }
});

t.test('an event or a result json cannot handle gets the same clear answer, plain or multiplexed, and the connection goes on', async (t) => {
  const socket = await runtime(t);
  // Valid JSON nested deeper than Python's json decodes (~1,000 levels).
  const deep = `{"event":{"a":${'['.repeat(5000)}${']'.repeat(5000)}},"context":{}}`;
  for (const multiplexed of [false, true]) {
    const client = connection(t, socket, multiplexed);
    const refused = await client.send(`POST /invoke/release HTTP/1.1\r\nHost: hearth\r\nContent-Length: ${deep.length}\r\n`, deep);
    t.equal(refused.status, 400, `multiplexed: ${multiplexed}`);
    t.match(json(refused.body), { ok: false, error: { type: 'InvalidEvent', message: /nested too deeply/ } });
    const tooDeep = json((await client.send(...invoke('nested', { depth: 5000 }))).body);
    t.match(tooDeep, { ok: false, error: { type: 'ResultNotSerializable', message: /not JSON-serializable: RecursionError/ } });
    const broken = json((await client.send(...invoke('weird', {}))).body);
    t.match(broken, { ok: false, error: { type: 'ResultNotSerializable', message: /KeyError: 'no items'/ } }, "a dict subclass whose items() raises");
    t.match(json((await client.send(...invoke('release', { n: 4 }))).body), { ok: true, result: { n: 4 } }, 'the connection goes on');
    t.equal(client.usable, true);
  }
});

t.test('worker threads: as many as the calls in flight, reused, and gone with their connection', async (t) => {
  const socket = await runtime(t);
  const plain = connection(t, socket, false);
  const threads = async (client: RuntimeConnection): Promise<number> => json((await client.send(...invoke('threads', {}))).body).result as number;
  const baseline = await threads(plain);
  const client = connection(t, socket, true);
  // Four calls that can only end together: four workers at once.
  const met = await Promise.all(Array.from({ length: 4 }, () => client.send(...invoke('meet', {}))));
  t.same(met.map((reply) => json(reply.body).result), [true, true, true, true]);
  const during = await threads(client);
  t.ok(during <= baseline + 6, `the connection's reader and at most one worker more than four (${during} threads, ${baseline} before)`);
  for (let i = 0; i < 20; i += 1) await threads(client);
  t.equal(await threads(client), during, 'calls one after another reuse the workers');
  client.destroy();
  let after = during;
  for (let i = 0; i < 200 && after !== baseline; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    after = await threads(plain);
  }
  t.equal(after, baseline, 'the workers end when their connection does');
});
