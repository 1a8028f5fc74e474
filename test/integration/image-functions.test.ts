import { spawnSync } from 'node:child_process';
import t from 'tap';
import { eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { requireDocker } from '../helpers/docker.js';
import { DRIVERS } from '../helpers/drivers.js';

// Image functions (SCAR's model): a local image plus a script or command per
// function, run once per call inside warm containers of that image. The base
// image stands in for "any image": it has a shell, coreutils and python3.

const IMAGE = process.env.HEARTH_PYTHON_IMAGE ?? 'hearth/python:3.11';

const ECHO_SCRIPT = `
input=$(cat)
echo "saw $HEARTH_FUNCTION for $HEARTH_MODULE" >&2
printf '{"stdin": %s, "env": %s, "uid": %s, "trigger": "%s"}\\n' "$input" "$HEARTH_EVENT" "$(id -u)" "$HEARTH_TRIGGER"
`;

const PYTHON = `
import json, sys
event = json.load(sys.stdin)
print("python here", file=sys.stderr)
print(json.dumps({"sum": sum(event["numbers"]), "lang": "python"}))
`;

interface CallError {
  error: { code: string; type?: string; message: string; traceback?: string; logs?: string };
}

function deployImage(d: TestDaemon, module: string, body: object): Promise<Response> {
  return d.request(`/system/modules/${module}`, {
    method: 'PUT',
    admin: true,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: IMAGE, ...body }),
  });
}

// With a C compiler the daemon builds the hearth-exec supervisor and calls go through it;
// HEARTH_EXEC_HELPER=off (or no compiler) makes every call a docker exec. Both run everything.
const HAS_CC = spawnSync('cc', ['--version']).status === 0;

for (const helper of ['auto', 'off'] as const) {
  t.test(`docker driver, HEARTH_EXEC_HELPER=${helper}`, async (t) => {
    if (!(await requireDocker(t))) return;
    const env = { HEARTH_EXEC_HELPER: helper };
    const d = await startDaemon(t, { driver: 'docker', env });

    t.test('calls go through the supervisor when it could be built, else through docker exec', async (t) => {
      const { driver: info } = (await (await d.request('/system/info', { admin: true })).json()) as { driver: { enforced: string[] } };
      const supervised = helper === 'auto' && HAS_CC;
      t.ok(info.enforced.some((line) => line.includes(supervised ? 'hearth-exec supervisor' : 'docker exec')), info.enforced.join('; '));
    });

    t.test('a shell script gets the event on stdin and in HEARTH_EVENT; stdout is the result, stderr the logs', async (t) => {
      const res = await deployImage(d, 'echoer', { script: ECHO_SCRIPT });
      t.equal(res.status, 201, await res.clone().text());
      const record = (await res.json()) as { kind: string; functions: string[]; image: string; imageFunctions: { image: string } };
      t.equal(record.kind, 'image');
      t.same(record.functions, ['handler'], 'a top-level script is the function `handler`');
      t.match(record.image, /^sha256:[0-9a-f]{64}$/, 'instances run the image id that was deployed');
      t.equal(record.imageFunctions.image, IMAGE);

      const call = await d.call('echoer', 'handler', { name: 'ada', n: [1, 2] });
      t.equal(call.status, 200);
      t.equal(call.headers.get('x-hearth-cold-start'), '1');
      const result = (await call.json()) as { stdin: unknown; env: unknown; uid: number; trigger: string };
      t.same(result.stdin, { name: 'ada', n: [1, 2] });
      t.same(result.env, { name: 'ada', n: [1, 2] });
      t.not(result.uid, 0, 'the command does not run as root');
      t.equal(result.trigger, 'http');

      const warm = await d.call('echoer', 'handler', { again: true });
      t.equal(warm.status, 200);
      t.equal(warm.headers.get('x-hearth-cold-start'), '0', 'the second call finds the warm container');
      t.same(((await warm.json()) as { stdin: unknown }).stdin, { again: true });
      t.equal((await d.instances('echoer')).length, 1, 'one container served both calls');

      const id = warm.headers.get('x-hearth-call-id') as string;
      const invocation = (await (await d.request(`/system/invocations/${id}`, { admin: true })).json()) as { logs: string; status: string };
      t.equal(invocation.status, 'succeeded');
      t.equal(invocation.logs, 'saw handler for echoer\n', 'stderr is the call’s logs');
    });

    t.test('stdout that is not JSON is returned as text; empty stdout is null', async (t) => {
      const res = await deployImage(d, 'texts', { functions: { hello: { script: 'echo "hello, $(cat | tr -d \'"\')"' }, quiet: { script: 'true' } } });
      t.equal(res.status, 201, await res.clone().text());
      t.same(((await res.json()) as { functions: string[] }).functions.sort(), ['hello', 'quiet']);
      const hello = await d.call('texts', 'hello', 'world');
      t.equal(hello.status, 200);
      t.equal(await hello.json(), 'hello, world');
      const quiet = await d.call('texts', 'quiet');
      t.equal(await quiet.json(), null);
      const missing = await d.call('texts', 'nope');
      t.equal(missing.status, 404);
    });

    t.test('a command in another language: python reads the event from stdin', async (t) => {
      const res = await deployImage(d, 'adder', { functions: { add: { command: ['python3', '-c', PYTHON] } } });
      t.equal(res.status, 201, await res.clone().text());
      const call = await d.call('adder', 'add', { numbers: [1, 2, 3, 4] });
      t.equal(call.status, 200);
      t.same(await call.json(), { sum: 10, lang: 'python' });
    });

    t.test('a non-zero exit is a failed call with the status and stderr; the container keeps serving', async (t) => {
      const res = await deployImage(d, 'failer', { script: 'read line; echo "bad input: $line" >&2; [ "$line" = \'"ok"\' ] && echo fine && exit 0; exit 3' });
      t.equal(res.status, 201, await res.clone().text());
      const failed = await d.call('failer', 'handler', 'nope');
      t.equal(failed.status, 500);
      const { error } = (await failed.json()) as CallError;
      t.match(error, { code: 'HANDLER_ERROR', type: 'NonZeroExit', message: /exited with status 3: bad input: "nope"/ });
      t.match(error.traceback, /bad input: "nope"/);
      const ok = await d.call('failer', 'handler', 'ok');
      t.equal(ok.status, 200);
      t.equal(await ok.json(), 'fine');
      t.equal((await d.instances('failer')).length, 1, 'a failed command does not cost the container');
    });

    t.test('the command runs under the module’s limits: read-only root, no network, private /tmp', async (t) => {
      const script = 'touch /etc/x 2>/dev/null && echo rootfs-writable; ls /sys/class/net | tr "\\n" " "; echo; echo hi > /tmp/f && cat /tmp/f';
      t.equal((await deployImage(d, 'jail', { script })).status, 201);
      const call = await d.call('jail', 'handler');
      t.equal(await call.json(), 'lo \nhi');
    });

    t.test('a call over timeoutMs is a 504; the container is replaced and the next call succeeds', async (t) => {
      const res = await deployImage(d, 'sleeper', { script: 'read s; sleep "$s"; echo "slept $s"', config: { timeoutMs: 1000 } });
      t.equal(res.status, 201, await res.clone().text());
      const slow = await d.call('sleeper', 'handler', 5);
      t.equal(slow.status, 504);
      const fast = await d.call('sleeper', 'handler', 0);
      t.equal(fast.status, 200);
      t.equal(await fast.json(), 'slept 0');
    });

    t.test('a redeploy with another script answers with it at once; an identical one changes nothing', async (t) => {
      t.equal((await deployImage(d, 'versions', { script: 'echo one' })).status, 201);
      t.equal(await (await d.call('versions', 'handler')).json(), 'one');
      const again = (await (await deployImage(d, 'versions', { script: 'echo one' })).json()) as { changed: boolean };
      t.equal(again.changed, false);
      const next = await deployImage(d, 'versions', { script: 'echo two' });
      t.equal(next.status, 200);
      t.equal(((await next.json()) as { changed: boolean }).changed, true);
      t.equal(await (await d.call('versions', 'handler')).json(), 'two');
      await eventually(async () => (await d.instances('versions')).length === 1, 15_000, 'the old version’s container is removed');
    });

    t.test('a file trigger: the script reads INPUT_FILE_PATH and what it writes to TMP_OUTPUT_DIR lands in the output bucket', async (t) => {
      for (const bucket of ['img-in', 'img-out']) t.equal((await d.request(`/buckets/${bucket}`, { method: 'PUT', admin: true })).status, 201);
      const script = [
        'name=$(basename "$INPUT_FILE_PATH")',
        'case "$name" in *.bad) echo partial > "$TMP_OUTPUT_DIR/partial.txt"; echo "cannot convert $name" >&2; exit 2;; esac',
        'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name.up"',
        'python3 -c "import json,sys; e=json.load(sys.stdin); print(json.dumps({\'key\': e[\'key\'], \'size\': e[\'size\']}))"',
      ].join('\n');
      const triggers = [{ type: 'file', bucket: 'img-in', function: 'handler', output: 'img-out' }];
      t.equal((await deployImage(d, 'shouter', { script, config: { triggers } })).status, 201);

      const job = async (key: string, body: string): Promise<{ status: string; result: unknown; error: { message: string } | null; outputs?: string[] }> => {
        const res = await d.request(`/buckets/img-in/objects/${key}`, { method: 'PUT', admin: true, headers: { 'content-type': 'text/plain' }, body });
        t.equal(res.status, 201);
        const { jobs } = (await res.json()) as { jobs: { id: string }[] };
        let record: { status: string; result: unknown; error: { message: string } | null; outputs?: string[] } | undefined;
        await eventually(async () => !['queued', 'running'].includes((record = (await (await d.request(`/async/${jobs[0]?.id}`)).json()) as typeof record)?.status ?? 'queued'), 30_000, `job for ${key}`);
        return record as NonNullable<typeof record>;
      };
      const done = await job('docs/a.txt', 'quiet words');
      t.equal(done.status, 'succeeded');
      t.same(done.result, { key: 'docs/a.txt', size: 11 });
      t.same(done.outputs, ['img-out/docs/a.txt.up']);
      t.equal(await (await d.request('/buckets/img-out/objects/docs/a.txt.up', { admin: true })).text(), 'QUIET WORDS');

      const failed = await job('docs/b.bad', 'x');
      t.equal(failed.status, 'failed');
      t.match(failed.error?.message, /exited with status 2: cannot convert b.bad/);
      t.equal((await d.request('/buckets/img-out/objects/docs/partial.txt', { admin: true })).status, 404, 'a failed call stores nothing');
    });

    t.test('bad image modules are refused with the reason', async (t) => {
      const cases: [string, object, RegExp][] = [
        ['an image that is not on the engine', { image: 'hearth/no-such-image:1', script: 'true' }, /no image "hearth\/no-such-image:1" on this engine/],
        ['both a script and functions', { script: 'true', functions: { a: { script: 'true' } } }, /either script \(or command\) or functions/],
        ['neither', {}, /either script \(or command\) or functions/],
        ['a function with both', { functions: { a: { script: 'true', command: ['true'] } } }, /functions\/a needs exactly one of script and command/],
        ['a bad function name', { functions: { 'a-b': { script: 'true' } } }, /functions/],
        ['an empty command', { functions: { a: { command: [] } } }, /command/],
        ['a trigger naming a missing function', { script: 'true', config: { triggers: [{ type: 'cron', schedule: '* * * * *', function: 'tick' }] } }, /does not define: tick/],
      ];
      for (const [what, body, message] of cases) {
        const res = await d.request('/system/modules/refused', {
          method: 'PUT',
          admin: true,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ image: IMAGE, ...body }),
        });
        t.equal(res.status, 400, what);
        t.match(((await res.json()) as CallError).error.message, message, what);
      }
      t.equal((await d.request('/system/modules/refused', { admin: true })).status, 404, 'nothing was deployed');
    });

    t.test('an image module survives a daemon restart', async (t) => {
      const dataDir = await makeDataDir(t);
      const first = await startDaemon(t, { driver: 'docker', dataDir, env });
      t.equal((await deployImage(first, 'durable', { script: 'echo "still $(cat)"' })).status, 201);
      await first.close();
      const second = await startDaemon(t, { driver: 'docker', dataDir, env });
      const call = await second.call('durable', 'handler', 'here');
      t.equal(call.status, 200);
      t.equal(await call.json(), 'still "here"');
      const record = (await (await second.request('/system/modules/durable', { admin: true })).json()) as { kind: string };
      t.equal(record.kind, 'image');
    });
  });
}

t.test('process driver', { skip: DRIVERS.includes('process') ? false : 'HEARTH_TEST_DRIVERS leaves out the process driver' }, async (t) => {
  const d = await startDaemon(t, { driver: 'process' });
  const res = await deployImage(d, 'nope', { script: 'true' });
  t.equal(res.status, 400, 'there are no images without a container engine');
  t.match(((await res.json()) as CallError).error.message, /image functions need a container engine/);
});
