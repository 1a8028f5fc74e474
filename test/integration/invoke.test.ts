import Docker from 'dockerode';
import t from 'tap';
import { eventually, startDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// Sync invocation: event/context conventions, every error status, and instance
// faults, on both drivers. Tests that only mean something for one driver say why.

const SOURCE = `import os, time

def echo(event, context):
    return {"event": event, "query": context["query"], "trigger": context["trigger"],
            "memory": context["memory_limit_in_mb"], "has_auth": "authorization" in context["headers"]}

def chatty(event, context):
    print("to stdout", event.get("n"))
    import sys
    print("to stderr", file=sys.stderr)
    return "ok"

def fails(event, context):
    print("about to fail")
    raise ValueError("bad value: " + str(event.get("v")))

def unserializable(event, context):
    return {"when": object()}

def nested(event, context):
    value = []
    for _ in range(event["depth"]):
        value = [value]
    return value

def nothing(event, context):
    return None

def sleepy(event, context):
    time.sleep(event.get("s", 5))
    return "woke"

def die(event, context):
    os._exit(3)

def signalled(event, context):
    # A segfault, as a broken C extension would cause (a kill() of itself is ignored by a container's PID 1).
    import ctypes
    ctypes.string_at(0)

def hog(event, context):
    blocks = []
    while True:
        blocks.append(bytearray(16 * 1024 * 1024))

async def coro(event, context):
    return "awaited"

def _private(event, context):
    return "hidden"
`;

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver, env: { HEARTH_MAX_BODY_BYTES: '65536' } });
  const deployed = await d.deploy('fx', SOURCE, { timeoutMs: 1500, memoryMb: 64 });
  t.equal(deployed.status, 201, 'fx deployed');

  t.test('event is the JSON body, context carries the request', async (t) => {
    const res = await d.request('/function/fx/echo?x=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer secret' },
      body: JSON.stringify({ a: [1, 2], b: { c: null } }),
    });
    t.equal(res.status, 200);
    t.match(res.headers.get('x-hearth-request-id'), /^[0-9a-f-]{36}$/);
    t.same(await res.json(), { event: { a: [1, 2], b: { c: null } }, query: { x: '1' }, trigger: 'http', memory: 64, has_auth: false });
  });

  t.test('form fields and empty bodies', async (t) => {
    const form = await d.request('/function/fx/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=two',
    });
    t.match(await form.json(), { event: { a: '1', b: 'two' } });
    t.match(await (await d.call('fx', 'echo')).json(), { event: {} }, 'no body: {}');
    const emptyJson = await d.request('/function/fx/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
    t.match(await emptyJson.json(), { event: {} }, 'empty JSON body: {}');
    const text = await d.request('/function/fx/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    t.equal(text.status, 415);
    const broken = await d.request('/function/fx/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    t.equal(broken.status, 400);
  });

  t.test('paramsIn "context": the original design convention adds form fields a and b', async (t) => {
    const res = await d.deploy(
      'adder',
      'def add(event, context):\n    return {"method": event["method"], "sum": int(context["a"]) + int(context["b"])}\n',
      { paramsIn: 'context' },
    );
    t.equal(res.status, 201);
    const call = await d.request('/function/adder/add', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=2&b=40',
    });
    t.same(await call.json(), { method: 'http', sum: 42 });
    const json = await d.request('/function/adder/add?a=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"b": 2}' });
    t.same(await json.json(), { method: 'http', sum: 3 }, 'query and JSON body fields too');
  });

  t.test('None and coroutines', async (t) => {
    const none = await d.call('fx', 'nothing');
    t.equal(none.status, 200);
    t.equal(await none.text(), 'null');
    t.same(await (await d.call('fx', 'coro')).json(), 'awaited');
  });

  t.test('print() output is captured per call', async (t) => {
    const res = await d.request('/function/fx/chatty', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hearth-log-type': 'Tail' },
      body: '{"n": 7}',
    });
    t.equal(res.status, 200);
    const logs = Buffer.from(res.headers.get('x-hearth-log-result') ?? '', 'base64').toString();
    t.equal(logs, 'to stdout 7\nto stderr\n');
    const plain = await d.call('fx', 'chatty', { n: 8 });
    t.equal(plain.headers.get('x-hearth-log-result'), null, 'only on request');
  });

  t.test('a handler that raises is a 500 with type, message, traceback and logs', async (t) => {
    const res = await d.call('fx', 'fails', { v: 42 });
    t.equal(res.status, 500);
    const { error } = (await res.json()) as { error: Record<string, string> };
    t.match(error, { code: 'HANDLER_ERROR', type: 'ValueError', message: 'ValueError: bad value: 42', logs: 'about to fail\n' });
    t.match(error.traceback, /File "[^"]*\/code\/fx.py", line \d+, in fails/);
    t.notMatch(error.traceback, /hearth_runtime|_hearth_/, 'the runtime frames are not shown');
  });

  t.test('a return value JSON cannot encode is a clear 500, and the instance lives on', async (t) => {
    const res = await d.call('fx', 'unserializable');
    t.equal(res.status, 500);
    t.match(await res.json(), { error: { type: 'ResultNotSerializable', message: /not JSON-serializable/ } });
    t.equal((await d.call('fx', 'nothing')).status, 200);
  });

  t.test("an event or a result nested deeper than Python's json goes is a clear error, and the instance lives on", async (t) => {
    t.equal((await d.call('fx', 'nothing')).status, 200);
    const before = (await d.instances('fx')).map((c) => c.id);
    // Valid JSON, which the gateway parses, but ~1,000 levels is as deep as the runtime decodes.
    const deep = `{"a": ${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const event = await d.request('/function/fx/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    t.equal(event.status, 400);
    t.match(await event.json(), { error: { code: 'INVALID_EVENT', message: /nested too deeply/ } });
    const result = await d.call('fx', 'nested', { depth: 5000 });
    t.equal(result.status, 500);
    t.match(await result.json(), { error: { code: 'HANDLER_ERROR', type: 'ResultNotSerializable', message: /not JSON-serializable: RecursionError/ } });
    t.same(await (await d.call('fx', 'nested', { depth: 2 })).json(), [[[]]]);
    t.same((await d.instances('fx')).map((c) => c.id), before, 'the same instance served every call');
  });

  t.test('unknown functions and modules are 404s; bad names 400', async (t) => {
    const missing = await d.call('fx', 'nope');
    t.equal(missing.status, 404);
    t.match(await missing.json(), { error: { code: 'FUNCTION_NOT_FOUND', functions: ['chatty', 'coro', 'die', 'echo', 'fails', 'hog', 'nested', 'nothing', 'signalled', 'sleepy', 'unserializable'] } });
    t.equal((await d.call('fx', '_private')).status, 404, 'private functions are not exported');
    t.equal((await d.call('fx', 'os')).status, 404, 'imported modules are not functions');
    t.equal((await d.call('nomodule', 'f')).status, 404);
    t.match(await (await d.call('nomodule', 'f')).json(), { error: { code: 'MODULE_NOT_FOUND' } });
    t.equal((await d.call('fx', '__import__')).status, 404);
    t.equal((await d.request('/function/fx/a.b', { method: 'POST' })).status, 400);
  });

  t.test('a body over HEARTH_MAX_BODY_BYTES is a 413', async (t) => {
    const res = await d.call('fx', 'echo', { big: 'x'.repeat(100_000) });
    t.equal(res.status, 413);
    t.match(await res.json(), { error: { code: 'BODY_TOO_LARGE' } });
  });

  t.test('a call over timeoutMs is a 504; its instance is replaced and the next call succeeds', async (t) => {
    await d.call('fx', 'nothing');
    const [before] = await d.instances('fx');
    const res = await d.call('fx', 'sleepy', { s: 10 });
    t.equal(res.status, 504);
    t.match(await res.json(), { error: { code: 'INVOCATION_TIMEOUT', message: /1500 ms/ } });
    await eventually(async () => !(await d.instances('fx')).some((c) => c.id === before?.id), 10_000, 'the timed-out container to go');
    const next = await d.call('fx', 'sleepy', { s: 0 });
    t.equal(next.status, 200);
    t.equal(next.headers.get('x-hearth-cold-start'), '1', 'served by a new instance');
  });

  t.test('a container that exits mid-call fails the call with 502 and the exit code', async (t) => {
    const res = await d.call('fx', 'die');
    t.equal(res.status, 502);
    t.match(await res.json(), { error: { code: 'INSTANCE_CRASHED', exitCode: 3, message: /exited with code 3/ } });
    t.equal((await d.call('fx', 'nothing')).status, 200, 'the next call gets a fresh instance');
  });

  t.test('an instance killed by a signal mid-call is a 502 saying so', async (t) => {
    const res = await d.call('fx', 'signalled');
    t.equal(res.status, 502);
    // Docker reports a signal as exit code 128 + n; the process driver names it.
    const expected = driver === 'docker' ? { exitCode: 139, message: /exited with code 139/ } : { signal: 'SIGSEGV', message: /killed by SIGSEGV/ };
    t.match(await res.json(), { error: { code: 'INSTANCE_CRASHED', ...expected } });
    t.equal((await d.call('fx', 'nothing')).status, 200, 'the next call gets a fresh instance');
  });

  t.test('an instance killed from outside during a call is a 502', async (t) => {
    await d.call('fx', 'nothing');
    const [instance] = await d.instances('fx');
    const pending = d.call('fx', 'sleepy', { s: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // docker kill, or its process-driver equivalent: SIGKILL to the instance's process group.
    if (driver === 'docker') await new Docker().getContainer(instance?.id ?? '').kill();
    else process.kill(-(instance?.pid ?? 0), 'SIGKILL');
    const res = await pending;
    t.equal(res.status, 502);
    t.match(await res.json(), { error: { code: 'INSTANCE_CRASHED', message: driver === 'docker' ? /code 137/ : /SIGKILL/ } });
  });

  if (driver === 'docker') {
    // Only a cgroup kills for memory; the process driver's RLIMIT_AS turns it into a MemoryError (next test).
    t.test('running out of memory is a 502 that says OOM', async (t) => {
      const res = await d.call('fx', 'hog');
      t.equal(res.status, 502);
      t.match(await res.json(), { error: { code: 'INSTANCE_CRASHED', oomKilled: true, message: /memory limit \(OOM/ } });
    });
  } else {
    t.test('allocating past memoryMb is a clear error naming the limit, and the instance lives on', async (t) => {
      const res = await d.call('fx', 'hog');
      t.equal(res.status, 500);
      t.match(await res.json(), { error: { code: 'HANDLER_ERROR', type: 'MemoryError', message: /out of memory: the module's limit is 64 MiB/ } });
      t.equal((await d.call('fx', 'nothing')).status, 200);
    });
  }

  t.test('an instance that fails to start answers 503 naming the cause', async (t) => {
    const source = `import os
if os.environ.get("HEARTH_PHASE") != "build":
    raise RuntimeError("DATABASE_URL is not set")

def f(event, context):
    return 1
`;
    t.equal((await d.deploy('startfail', source)).status, 201, 'the build-time check passes');
    const res = await d.call('startfail', 'f');
    t.equal(res.status, 503);
    t.match(await res.json(), { error: { code: 'INSTANCE_START_FAILED', message: /RuntimeError: DATABASE_URL is not set \(startfail.py, line 3\)/ } });
    await eventually(async () => (await d.instances('startfail')).length === 0, 10_000, 'the failed container to be removed');
  });

  const probe = `import os, socket

def probe(event, context):
    try:
        open(os.path.join(os.path.dirname(__file__), "x"), "w")
        code_writable = True
    except OSError:
        code_writable = False
    with open("/tmp/scratch", "w") as f:
        f.write("ok")
    # What a subprocess started with os.system sees of the network.
    os.system("ls /sys/class/net > /tmp/ifaces")
    with open("/tmp/ifaces") as f:
        shell_ifaces = f.read().split()
    return {"uid": os.getuid(), "code_writable": code_writable,
            "interfaces": sorted(name for _, name in socket.if_nameindex()),
            "shell_interfaces": sorted(shell_ifaces),
            "env": sorted(k for k in os.environ if not k.startswith("HEARTH_") or k == "HEARTH_ADMIN_TOKEN"),
            "home": os.environ.get("HOME")}

def connect(event, context):
    try:
        socket.create_connection(("127.0.0.1", event["port"]), timeout=2).close()
        return "connected"
    except OSError as exc:
        return "refused: %s" % exc
`;

  if (driver === 'docker') {
    t.test('containers follow the security defaults', async (t) => {
      t.equal((await d.deploy('probe', probe)).status, 201);
      const res = await d.call('probe', 'probe');
      t.match(await res.json(), { uid: 1000, code_writable: false, interfaces: ['lo'], shell_interfaces: ['lo'] }, 'loopback only');
      const [info] = await d.instances('probe');
      const inspect = await new Docker().getContainer(info?.id ?? '').inspect();
      t.equal(inspect.Config.User, '1000:1000');
      t.equal(inspect.HostConfig.NetworkMode, 'none');
      t.equal(inspect.HostConfig.ReadonlyRootfs, true);
      t.same(inspect.HostConfig.CapDrop, ['ALL']);
      t.same(inspect.HostConfig.SecurityOpt, ['no-new-privileges']);
      t.equal(inspect.HostConfig.Memory, 256 * 1024 * 1024);
      t.equal(inspect.HostConfig.PidsLimit, 128);
      t.equal(inspect.HostConfig.NanoCpus, 1e9);
      t.match(inspect.Config.Labels, { 'hearth.module': 'probe', 'hearth.daemon': d.daemon.daemonId });
    });

    t.test('network: true gives the function a network interface', async (t) => {
      const source = 'import socket\n\ndef ifaces(event, context):\n    return sorted(n for _, n in socket.if_nameindex())\n';
      t.equal((await d.deploy('netmod', source, { network: true, env: { GREETING: 'hi' } })).status, 201);
      const names = (await (await d.call('netmod', 'ifaces')).json()) as string[];
      t.ok(names.includes('eth0'), `interfaces: ${names.join(',')}`);
    });
  } else {
    const sandboxed = d.daemon.driver.describe().sandbox.startsWith('bubblewrap');
    t.test('process instances: own uid, read-only code, scrubbed environment, no network in the sandbox', async (t) => {
      t.equal((await d.deploy('probe', probe)).status, 201);
      const res = await d.call('probe', 'probe');
      const seen = (await res.json()) as { uid: number; code_writable: boolean; interfaces: string[]; env: string[]; home: string };
      t.equal(seen.home, '/tmp', "HOME is the function's own, not the daemon's");
      t.not(seen.uid, 0, 'never root');
      t.equal(seen.code_writable, false, 'the code is read-only to the function');
      // tap's coverage hook adds NODE_OPTIONS and _TAPJS_* to every child this test process spawns.
      const env = seen.env.filter((k) => !/^(_TAPJS_|NODE_OPTIONS$)/.test(k));
      t.same(env, ['HOME', 'LANG', 'MALLOC_ARENA_MAX', 'PATH', 'PWD', 'PYTHONDONTWRITEBYTECODE', 'PYTHONUNBUFFERED'].filter((k) => sandboxed || k !== 'PWD'), "nothing of the daemon's environment");
      const port = Number(new URL(d.url).port);
      const connect = (await (await d.call('probe', 'connect', { port })).json()) as string;
      if (sandboxed) {
        t.same(seen.interfaces, ['lo'], 'loopback only: its own network namespace');
        t.match(connect, /^refused/, "the gateway's port on the host loopback is out of reach");
      } else {
        t.comment('no bubblewrap: network isolation is not enforced (GET /system/info says so)');
      }
    });

    t.test('network: true shares the host network with a sandboxed function', { skip: sandboxed ? false : 'needs bubblewrap' }, async (t) => {
      t.equal((await d.deploy('netmod', probe, { network: true })).status, 201);
      const port = Number(new URL(d.url).port);
      t.same(await (await d.call('netmod', 'connect', { port })).json(), 'connected');
    });
  }

  t.test('config env reaches the function', async (t) => {
    t.equal((await d.deploy('envmod', 'import os\n\ndef get(event, context):\n    return os.environ.get("GREETING")\n', { env: { GREETING: 'hi' } })).status, 201);
    t.same(await (await d.call('envmod', 'get')).json(), 'hi');
  });
});

eachDriver(t, async (t, driver) => {
  t.test('HEARTH_INVOKE_TOKEN makes function calls need a bearer token', async (t) => {
    const d = await startDaemon(t, { driver, env: { HEARTH_INVOKE_TOKEN: 'call-me' } });
    t.equal((await d.deploy('guarded', 'def f(event, context):\n    return "in"\n')).status, 201);
    const none = await d.call('guarded', 'f');
    t.equal(none.status, 401);
    t.match(await none.json(), { error: { code: 'UNAUTHORIZED', message: /function routes need/ } });
    const wrong = await d.request('/function/guarded/f', { method: 'POST', headers: { authorization: 'Bearer nope' } });
    t.equal(wrong.status, 401);
    const right = await d.request('/function/guarded/f', { method: 'POST', headers: { authorization: 'Bearer call-me' } });
    t.equal(right.status, 200);
    t.same(await right.json(), 'in');
    t.equal((await d.request('/healthz')).status, 200, 'liveness stays open');
  });
});
