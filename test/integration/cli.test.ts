import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { ADMIN_TOKEN, eventually, makeDataDir, startDaemon } from '../helpers/daemon.js';
import { requireDocker } from '../helpers/docker.js';

// The real `hearth` binary against a real daemon (Docker engine, SQLite file), every command.

const SHOP = `import time

def hello(event, context):
    print("hello log", event.get("name"))
    return {"hello": event.get("name", "world")}

def fails(event, context):
    raise ValueError("card declined")

def slow(event, context):
    time.sleep(event.get("s", 1))
    return "slept"
`;

const FLOW_YAML = `name: greet
start: first
nodes:
  first: {function: shop.hello}
  second: {function: tools.shout}
edges:
  - {from: first, to: second, when: {path: $.hello, op: exists}}
`;

t.test('the hearth CLI', async (t) => {
  if (!(await requireDocker(t))) return;
  const d = await startDaemon(t, { driver: 'docker', env: { HEARTH_JOB_CONCURRENCY: '1', HEARTH_INVOCATION_FLUSH_MS: '20' } });
  const dir = await makeDataDir(t);
  const env = { HEARTH_URL: d.url, HEARTH_TOKEN: ADMIN_TOKEN };
  const hearth = (...args: string[]): Promise<CliResult> => runCli(args, { env, cwd: dir });
  const ok = async (tt: Test, ...args: string[]): Promise<CliResult> => {
    const result = await hearth(...args);
    tt.equal(result.code, 0, `hearth ${args.join(' ')} exits 0${result.code === 0 ? '' : `: ${result.stderr}`}`);
    return result;
  };

  await writeFile(join(dir, 'shop.py'), SHOP);
  await mkdir(join(dir, 'tools'));
  await writeFile(join(dir, 'tools', 'tools.py'), 'from helper import loud\n\ndef shout(event, context):\n    return loud(event["hello"])\n');
  await writeFile(join(dir, 'tools', 'helper.py'), 'def loud(text):\n    return text.upper() + "!"\n');
  await writeFile(join(dir, 'greet.yaml'), FLOW_YAML);

  t.test('deploy a file with settings, and a directory; ls; inspect', async (t) => {
    const first = await ok(t, 'deploy', 'shop.py', '--min-warm', '1', '--max', '3', '--timeout', '5000', '--memory', '128');
    t.match(first.stdout, /^shop: deployed version [0-9a-f]{12} \(built\); functions: fails, hello, slow$/m);
    t.match(first.stderr, /shop: uploading shop.py \(\d+ B\), building…/);
    const again = await ok(t, 'deploy', 'shop.py');
    t.match(again.stdout, /shop: unchanged/, 'an identical redeploy changes nothing');
    t.match((await ok(t, 'deploy', 'tools')).stdout, /tools: deployed version .*functions: shout/, 'a directory is zipped');
    const ls = await ok(t, 'ls');
    t.match(ls.stdout, /^NAME\s+VERSION\s+FUNCTIONS\s+MIN\s+MAX\s+UPDATED\nshop\s+[0-9a-f]{12}\s+fails,hello,slow\s+1\s+3\s/m);
    const json = JSON.parse((await ok(t, '--json', 'ls')).stdout) as { name: string; config: { memoryMb: number; timeoutMs: number } }[];
    t.match(json.find((m) => m.name === 'shop'), { config: { memoryMb: 128, timeoutMs: 5000 } });
    t.match((await ok(t, 'inspect', 'shop')).stdout, /^shop [0-9a-f]{12}\s+functions: fails, hello, slow[\s\S]*minWarm\s+1[\s\S]*MODULE\s+STARTING/);
  });

  t.test('invoke: sync with -F and -d, a failure, async with --wait', async (t) => {
    const sync = await ok(t, 'invoke', 'shop.hello', '-F', 'name=Ada');
    t.same(JSON.parse(sync.stdout), { hello: 'Ada' });
    t.match(sync.stderr, /^call [0-9A-HJKMNP-TV-Z]{26}: [\d.]+ ms/m);
    t.same(JSON.parse((await ok(t, 'invoke', 'shop.hello', '-d', '{"name": "Bo"}')).stdout), { hello: 'Bo' });
    const failed = await hearth('invoke', 'shop.fails');
    t.equal(failed.code, 1, 'a failed call exits 1');
    t.match(failed.stderr, /^hearth: ValueError: card declined \(HANDLER_ERROR, HTTP 500\)\nTraceback/m);
    const waited = await ok(t, 'invoke', 'shop.hello', '--async', '--wait', '-F', 'name=Cy');
    t.same(JSON.parse(waited.stdout), { hello: 'Cy' });
    const id = (await ok(t, 'invoke', 'shop.hello', '--async')).stdout.trim();
    t.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    t.equal((await hearth('invoke', 'nodot')).code, 2, 'bad usage exits 2');
    t.equal((await hearth('invoke', 'ghost.fn')).code, 1);
  });

  t.test('jobs get, ls, cancel', async (t) => {
    // One job at a time (HEARTH_JOB_CONCURRENCY=1): the second waits, and can be cancelled.
    const running = (await ok(t, 'invoke', 'shop.slow', '--async', '-d', '{"s": 4.5}')).stdout.trim();
    const queued = (await ok(t, 'invoke', 'shop.slow', '--async', '-d', '{"s": 1}')).stdout.trim();
    t.match((await ok(t, 'jobs', 'cancel', queued)).stdout, `${queued}: cancelled`);
    const again = await hearth('jobs', 'cancel', queued);
    t.equal(again.code, 1);
    t.match(again.stderr, /only a queued job can be cancelled \(JOB_NOT_CANCELLABLE, HTTP 409\)/);
    await eventually(async () => /succeeded/.test((await hearth('jobs', 'get', running)).stdout), 30_000, 'the slow job');
    t.match((await ok(t, 'jobs', 'get', running)).stdout, new RegExp(`^${running}  shop.slow  succeeded.*\\nresult: "slept"`));
    const ls = await ok(t, 'jobs', 'ls', '--module', 'shop', '--limit', '2');
    t.match(ls.stdout, new RegExp(`^ID\\s+FUNCTION\\s+STATUS\\s+CREATED\\s+MS\\n${queued}\\s+shop.slow\\s+cancelled`));
  });

  t.test('logs, and logs -f delivering a call as it ends', async (t) => {
    t.match((await ok(t, 'logs', 'shop', '--limit', '50')).stdout, /--- \S+ hello \(http\) succeeded [\d.]+ ms [0-9A-Z]{26}\nhello log Ada/);
    const follower = startCli(['logs', 'shop', '-f'], { env, cwd: dir });
    let out = '';
    let err = '';
    follower.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    follower.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    t.teardown(() => follower.kill());
    await eventually(async () => err.includes('following shop'), 10_000, 'the follower to start');
    await ok(t, 'invoke', 'shop.hello', '-F', 'name=Live');
    await eventually(async () => out.includes('hello log Live'), 5000, 'the call on the stream');
    t.match(out, /--- \S+ hello \(http\) succeeded/);
  });

  t.test('scale and pools', async (t) => {
    t.match((await ok(t, 'scale', 'shop', '--min', '0', '--max', '2', '--idle-timeout', '60000')).stdout, 'shop: minWarm=0 maxInstances=2 idleTimeoutMs=60000');
    t.equal((await hearth('scale', 'shop')).code, 2, 'nothing to change');
    t.equal((await hearth('scale', 'shop', '--max', 'lots')).code, 2);
    t.match((await ok(t, 'pools')).stdout, /^MODULE\s+STARTING\s+IDLE[\s\S]*\nshop\s+\d[\s\S]*instances: \d+ of 64$/m);
  });

  t.test('workflow deploy, run, get, ls, rm', async (t) => {
    t.match((await ok(t, 'workflow', 'deploy', 'greet.yaml')).stdout, 'greet: created');
    const run = await ok(t, 'workflow', 'run', 'greet', '-F', 'name=ada');
    t.match(run.stdout, /^run ([0-9A-Z]{26}) succeeded\nSTEP\s+FUNCTION\s+STATUS[\s\S]*first\s+shop.hello\s+succeeded[\s\S]*output: "ADA!"/);
    const runId = /^run ([0-9A-Z]{26})/.exec(run.stdout)?.[1] as string;
    t.match((await ok(t, 'workflow', 'get', runId)).stdout, `run ${runId} succeeded`);
    t.match(JSON.parse((await ok(t, 'workflow', 'get', 'greet')).stdout), { name: 'greet', start: 'first' });
    const waited = await ok(t, '--json', 'workflow', 'run', 'greet', '--async', '--wait', '-F', 'name=bo');
    t.match(JSON.parse(waited.stdout), { status: 'succeeded', output: 'BO!' });
    await writeFile(join(dir, 'broken.json'), JSON.stringify({ name: 'broken', start: 'a', nodes: { a: { function: 'shop.fails' } } }));
    t.equal((await ok(t, 'workflow', 'deploy', 'broken.json')).code, 0);
    const failed = await hearth('workflow', 'run', 'broken');
    t.equal(failed.code, 1, 'a failed run exits 1');
    t.match(failed.stdout, /a\s+shop.fails\s+failed/);
    t.match(failed.stderr, /step a \(shop.fails\) failed: ValueError: card declined/);
    await writeFile(join(dir, 'invalid.json'), JSON.stringify({ name: 'invalid', start: 'nowhere', nodes: {} }));
    const invalid = await hearth('workflow', 'deploy', 'invalid.json');
    t.equal(invalid.code, 1);
    t.match(invalid.stderr, /INVALID_WORKFLOW[\s\S]*\n {2}start: names no node/);
    t.match((await ok(t, 'workflow', 'ls')).stdout, /^NAME\s+NODES\s+UPDATED\nbroken\s+1[\s\S]*\ngreet\s+2/m);
    t.match((await ok(t, 'workflow', 'rm', 'broken')).stdout, 'broken: removed');
  });

  t.test('up twice: the second run reports no changes', async (t) => {
    await mkdir(join(dir, 'stack'));
    await writeFile(join(dir, 'stack', 'calc.py'), 'def add(event, context):\n    return event["a"] + event["b"]\n');
    await writeFile(
      join(dir, 'stack', 'hearth.yaml'),
      ['modules:', '  calc:', '    path: ./calc.py', '    config: {maxInstances: 2}', 'workflows:', '  sums:', '    start: add', '    nodes: {add: {function: calc.add}}', ''].join('\n'),
    );
    const first = await ok(t, 'up', '-f', 'stack/hearth.yaml');
    t.match(first.stdout, /^module\s+calc\s+created\s+version [0-9a-f]{12}, built$/m);
    t.match(first.stdout, /^workflow\s+sums\s+created/m);
    t.match(first.stdout, /\n2 changed\n$/);
    const second = await ok(t, 'up', '-f', 'stack/hearth.yaml');
    t.match(second.stdout, /^module\s+calc\s+unchanged/m);
    t.match(second.stdout, /^workflow\s+sums\s+unchanged/m);
    t.match(second.stdout, /\nno changes\n$/);
    await writeFile(join(dir, 'stack', 'calc.py'), 'def add(event, context):\n    return event["a"] + event["b"] + 0\n');
    t.match((await ok(t, 'up', '-f', 'stack/hearth.yaml')).stdout, /^module\s+calc\s+updated[\s\S]*\n1 changed\n$/m);
    t.same(JSON.parse((await ok(t, 'invoke', 'calc.add', '-d', '{"a": 2, "b": 3}')).stdout), 5);
  });

  t.test('mb, put, objects, get', async (t) => {
    t.match((await ok(t, 'mb', 'pics')).stdout, 'pics: created');
    t.match((await ok(t, 'mb', 'pics')).stdout, 'pics: exists');
    await writeFile(join(dir, 'a.txt'), 'alpha');
    await writeFile(join(dir, 'b.json'), '{"b": 2}');
    const put = await ok(t, 'put', 'pics/in/', 'a.txt', 'b.json');
    t.match(put.stderr, /pics\/in\/a.txt: 5 bytes/);
    t.match(put.stdout, '2 uploaded');
    t.match((await ok(t, 'put', 'pics/renamed.txt', 'a.txt')).stderr, 'pics/renamed.txt: 5 bytes');
    const listed = await ok(t, 'objects', 'pics/in/');
    t.match(listed.stdout, /^KEY\s+SIZE\s+TYPE\s+CREATED\nin\/a.txt\s+5\s+text\/plain\s+\S+\nin\/b.json\s+8\s+application\/json/);
    t.equal((await ok(t, 'ls', 'pics/in/')).stdout, listed.stdout, 'ls BUCKET[/PREFIX] lists objects too');
    t.equal((await ok(t, 'get', 'pics/in/b.json')).stdout, '{"b": 2}');
    await ok(t, 'get', 'pics/in/a.txt', join(dir, 'copy.txt'));
    t.equal(await readFile(join(dir, 'copy.txt'), 'utf8'), 'alpha');
    const missing = await hearth('get', 'pics/nope');
    t.equal(missing.code, 1);
    t.match(missing.stderr, /OBJECT_NOT_FOUND, HTTP 404/);
    t.equal((await hearth('put', 'pics/../x', 'a.txt')).code, 1, 'a bad key is refused by the server');
  });

  t.test('run: every object already in a bucket through an image function’s file trigger', async (t) => {
    await ok(t, 'mb', 'batch');
    await ok(t, 'mb', 'batch-out');
    const files: string[] = [];
    for (const [name, text] of [['one.txt', 'one'], ['two.txt', 'two'], ['three.txt', 'three'], ['bad.txt', 'bad'], ['notes.md', 'skipped']]) {
      await writeFile(join(dir, name as string), text as string);
      files.push(name as string);
    }
    // Uploaded before the module exists: no trigger fires for them yet.
    await ok(t, 'put', 'batch/docs/', ...files);
    const script = 'grep -qx bad "$INPUT_FILE_PATH" && { echo "refusing $(basename "$INPUT_FILE_PATH")" >&2; exit 1; }; tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"';
    const deployed = await d.request('/system/modules/upper', {
      method: 'PUT',
      admin: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: process.env.HEARTH_PYTHON_IMAGE ?? 'hearth/python:3.11', script, config: { triggers: [{ type: 'file', bucket: 'batch', suffix: '.txt', function: 'handler', output: 'batch-out' }] } }),
    });
    t.equal(deployed.status, 201, await deployed.clone().text());

    const run = await hearth('run', 'upper', '--bucket', 'batch');
    t.equal(run.code, 1, 'a failed job makes the run fail');
    t.match(run.stderr, /docs\/bad.txt: (succeeded|failed) \(first call/, 'the first object is processed on its own, first');
    t.match(run.stdout, /upper: 4 jobs for 5 objects \(1 matched no trigger\): 3 succeeded, 1 failed, 3 outputs/);
    t.match(run.stdout, /docs\/bad.txt: failed: NonZeroExit: the command exited with status 1: refusing bad.txt/);
    t.match(run.stderr, /1 of 4 jobs did not succeed/);
    t.equal((await ok(t, 'get', 'batch-out/docs/three.txt')).stdout, 'THREE');

    const again = await ok(t, '--json', 'run', 'upper', '--bucket', 'batch/docs/t');
    const summary = JSON.parse(again.stdout) as { objects: number; jobs: number; succeeded: number; failed: unknown[]; outputs: number };
    t.match(summary, { objects: 2, jobs: 2, succeeded: 2, failed: [], outputs: 2 }, 'a prefix narrows the run');
    const none = await hearth('run', 'upper', '--bucket', 'pics');
    t.equal(none.code, 1);
    t.match(none.stderr, /module upper has no file trigger on bucket pics/);
  });

  t.test('rm; errors from an unreachable daemon', async (t) => {
    t.match((await ok(t, 'rm', 'tools')).stdout, 'tools: removed');
    const gone = await hearth('inspect', 'tools');
    t.equal(gone.code, 1);
    t.match(gone.stderr, 'hearth: no module named tools is deployed (MODULE_NOT_FOUND, HTTP 404)');
    const away = await runCli(['ls'], { env: { HEARTH_URL: 'http://127.0.0.1:59999' }, cwd: dir });
    t.equal(away.code, 1);
    t.match(away.stderr, /cannot reach hearth at http:\/\/127.0.0.1:59999: ECONNREFUSED/);
    const noToken = await runCli(['ls'], { env: { HEARTH_URL: d.url }, cwd: dir });
    t.equal(noToken.code, 1);
    t.match(noToken.stderr, /UNAUTHORIZED, HTTP 401/);
  });
});
