import { gzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import t from 'tap';
import tar from 'tar-stream';
import { startDaemon } from '../helpers/daemon.js';
import { eachDriver } from '../helpers/drivers.js';

// Deploy: JSON and multipart uploads, build errors, content-addressed rebuilds, removal.

const HELLO = `def my_function(event, context):
    return {"result": "hello {}{}!".format(event, context)}
`;

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** A minimal pure-Python wheel, made here: the tests reach no package index. */
function wheel(): Uint8Array {
  return zipSync({
    'hello_dep/__init__.py': strToU8('VALUE = "from a local wheel"\n'),
    'hello_dep-1.0.dist-info/METADATA': strToU8('Metadata-Version: 2.1\nName: hello_dep\nVersion: 1.0\n'),
    'hello_dep-1.0.dist-info/WHEEL': strToU8('Wheel-Version: 1.0\nGenerator: hearth-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
    'hello_dep-1.0.dist-info/RECORD': strToU8(''),
  });
}

eachDriver(t, async (t, driver) => {
  const d = await startDaemon(t, { driver });

  t.test('deploy → invoke: the original design example answers hello', async (t) => {
    const res = await d.deploy('my_module', HELLO);
    t.equal(res.status, 201);
    const record = (await res.json()) as Record<string, unknown>;
    t.match(record, {
      name: 'my_module',
      version: /^[0-9a-f]{12}$/,
      // A Docker image, or the process driver's build folder, both named by the content hash.
      image: driver === 'docker' ? /^hearth\/my-module:[0-9a-f]{12}$/ : /\/builds\/my_module-[0-9a-f]{12}$/,
      functions: ['my_function'],
      built: true,
      config: { memoryMb: 256, network: false, paramsIn: 'event' },
    });
    const call = await d.call('my_module', 'my_function', { name: 'Ada' });
    t.equal(call.status, 200);
    const body = (await call.json()) as { result: string };
    t.match(body.result, /^hello \{'name': 'Ada'\}\{.*'function': 'my_function'.*\}!$/);
    t.match(body.result, /'trigger': 'http'/);
    t.match(body.result, /'request_id': '[0-9a-f-]{36}'/);
  });

  t.test('an unchanged redeploy builds nothing; a changed one serves the new code at once', async (t) => {
    const again = await d.deploy('my_module', HELLO);
    t.equal(again.status, 200);
    const same = (await again.json()) as { built: boolean; version: string };
    t.equal(same.built, false, 'same content, no build');
    const changed = await d.deploy('my_module', 'def my_function(event, context):\n    return "v2"\n');
    const v2 = (await changed.json()) as { built: boolean; version: string };
    t.equal(v2.built, true);
    t.not(v2.version, same.version);
    t.same(await (await d.call('my_module', 'my_function')).json(), 'v2');
  });

  t.test('a syntax error answers 400 with file, line and message', async (t) => {
    const res = await d.deploy('broken', 'def ok(event, context):\n    return 1\n\ndef bad(:\n    pass\n');
    t.equal(res.status, 400);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    t.match(error, { code: 'BUILD_FAILED', file: 'broken.py', line: 4, message: /SyntaxError/ });
    t.notMatch(String(error.traceback), /hearth_runtime|_hearth_|py_compile/, 'the traceback shows only the user code');
    t.equal((await d.request('/system/modules/broken', { admin: true })).status, 404, 'nothing was deployed');
  });

  t.test('an import error answers 400 naming the line', async (t) => {
    const res = await d.deploy('bad_import', 'import os\nimport no_such_module_here\n');
    t.equal(res.status, 400);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    t.match(error, { code: 'BUILD_FAILED', file: 'bad_import.py', line: 2, message: /ModuleNotFoundError: No module named 'no_such_module_here'/ });
  });

  t.test('a module named like the standard library is refused', async (t) => {
    const res = await d.deploy('json', 'def f(event, context):\n    return 1\n');
    t.equal(res.status, 400);
    t.match(await res.json(), { error: { code: 'BUILD_FAILED', message: /shadows a Python standard library module/ } });
  });

  t.test('multipart: a .py file with a config part', async (t) => {
    const form = new FormData();
    form.append('file', new Blob(['def double(event, context):\n    return event["x"] * 2\n']), 'anything.py');
    form.append('config', JSON.stringify({ memoryMb: 128, timeoutMs: 5000 }));
    const res = await d.request('/system/modules/mp_py', { method: 'PUT', admin: true, body: form });
    t.equal(res.status, 201);
    t.match(await res.json(), { functions: ['double'], config: { memoryMb: 128, timeoutMs: 5000 } });
    t.same(await (await d.call('mp_py', 'double', { x: 21 })).json(), 42);
  });

  t.test('multipart: a .zip package whose requirements install from a bundled wheel', async (t) => {
    const zip = zipSync({
      'pkgmod/__init__.py': strToU8('from .core import answer\n'),
      'pkgmod/core.py': strToU8('import hello_dep\n\ndef answer(event, context):\n    return hello_dep.VALUE\n'),
      'requirements.txt': strToU8('hello_dep==1.0\n'),
      'wheels/hello_dep-1.0-py3-none-any.whl': wheel(),
    });
    const form = new FormData();
    form.append('file', new Blob([zip]), 'pkgmod.zip');
    const res = await d.request('/system/modules/pkgmod', { method: 'PUT', admin: true, body: form });
    t.equal(res.status, 201, JSON.stringify(await res.clone().json()));
    t.match(await res.json(), { functions: ['answer'] }, 'functions re-exported from a submodule count');
    t.same(await (await d.call('pkgmod', 'answer')).json(), 'from a local wheel');
  });

  t.test('a requirement that cannot be installed is a 400 about requirements.txt', async (t) => {
    const zip = zipSync({
      'reqbad.py': strToU8('def f(event, context):\n    return 1\n'),
      'requirements.txt': strToU8('no_such_dist==9.9\n'),
      'wheels/hello_dep-1.0-py3-none-any.whl': wheel(),
    });
    const form = new FormData();
    form.append('file', new Blob([zip]), 'reqbad.zip');
    const res = await d.request('/system/modules/reqbad', { method: 'PUT', admin: true, body: form });
    t.equal(res.status, 400);
    t.match(await res.json(), { error: { code: 'BUILD_FAILED', file: 'requirements.txt', message: /installing requirements.txt failed/ } });
  });

  t.test('requirements from an index this host cannot reach are a 400 that says so', async (t) => {
    const zip = zipSync({
      'reqnet.py': strToU8('def f(event, context):\n    return 1\n'),
      'requirements.txt': strToU8('hello_dep==1.0\n'),
    });
    const form = new FormData();
    form.append('file', new Blob([zip]), 'reqnet.zip');
    const res = await d.request('/system/modules/reqnet', { method: 'PUT', admin: true, body: form });
    t.equal(res.status, 400);
    t.match(await res.json(), { error: { code: 'BUILD_FAILED', file: 'requirements.txt', message: /package index is unreachable/ } });
  });

  t.test('multipart: a .tar.gz package wrapped in a folder', async (t) => {
    const data = await tarGz({ 'tgz_mod-1.0/tgz_mod.py': 'from helpers import twice\n\ndef run(event, context):\n    return twice(event["n"])\n', 'tgz_mod-1.0/helpers.py': 'def twice(n):\n    return 2 * n\n' });
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(data)]), 'tgz_mod-1.0.tar.gz');
    const res = await d.request('/system/modules/tgz_mod', { method: 'PUT', admin: true, body: form });
    t.equal(res.status, 201);
    t.same(await (await d.call('tgz_mod', 'run', { n: 4 })).json(), 8);
  });

  t.test('bad uploads and bad config are 400s that name the problem', async (t) => {
    const form = new FormData();
    form.append('file', new Blob(['x']), 'm.rar');
    const rar = await d.request('/system/modules/rar', { method: 'PUT', admin: true, body: form });
    t.equal(rar.status, 400);
    t.match(await rar.json(), { error: { code: 'INVALID_PACKAGE', message: /unsupported upload/ } });
    const unknown = await d.deploy('cfg', 'x = 1', { memry: 1 });
    t.equal(unknown.status, 400);
    t.match(await unknown.json(), { error: { code: 'INVALID_REQUEST', message: 'body/config has an unknown field "memry"' } });
    const range = await d.deploy('cfg', 'x = 1', { memoryMb: 8 });
    t.match(await range.json(), { error: { message: 'body/config/memoryMb must be >= 32' } });
    const reserved = await d.deploy('cfg', 'x = 1', { env: { HEARTH_X: '1' } });
    t.match(await reserved.json(), { error: { message: /body\/config\/env has an invalid name "HEARTH_X"/ } });
    const badName = await d.deploy('no-dashes', 'x = 1');
    t.equal(badName.status, 400);
    const notJson = await d.request('/system/modules/cfg', {
      method: 'PUT',
      admin: true,
      headers: { 'content-type': 'application/json' },
      body: '{"source": ',
    });
    t.equal(notJson.status, 400);
    t.match(await notJson.json(), { error: { code: 'INVALID_REQUEST', message: /not valid JSON/ } });
  });

  t.test('admin routes need the token', async (t) => {
    const none = await d.request('/system/modules');
    t.equal(none.status, 401);
    t.match(await none.json(), { error: { code: 'UNAUTHORIZED' } });
    const wrong = await d.request('/system/modules', { headers: { authorization: 'Bearer nope' } });
    t.equal(wrong.status, 401);
    const put = await d.request('/system/modules/x', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"source":"x=1"}' });
    t.equal(put.status, 401);
  });

  t.test('OpenAPI is served at /docs (the UI) and /docs/json without a token', async (t) => {
    const ui = await d.request('/docs/');
    t.equal(ui.status, 200);
    t.match(await ui.text(), /swagger-ui/i);
    const res = await d.request('/docs/json');
    t.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    t.match(doc.openapi, /^3\./);
    t.ok(doc.paths['/function/{module}/{fn}']?.post, 'the call route');
    t.ok(doc.paths['/system/modules/{module}']?.put, 'deploy');
    t.ok(doc.paths['/system/modules/{module}/scale']?.post, 'scale');
    t.notOk(doc.paths['/docs/json'], 'the document does not list itself');
  });

  t.test('list and inspect', async (t) => {
    const list = (await (await d.request('/system/modules', { admin: true })).json()) as { modules: { name: string }[] };
    t.ok(list.modules.some((m) => m.name === 'my_module'));
    const one = await (await d.request('/system/modules/my_module', { admin: true })).json();
    t.match(one, { name: 'my_module', functions: ['my_function'], pool: { module: 'my_module', instances: Array } });
    t.equal((await d.request('/system/modules/nope', { admin: true })).status, 404);
  });

  t.test('delete removes the module and its containers', async (t) => {
    await d.deploy('doomed', 'def f(event, context):\n    return 1\n');
    t.equal((await d.call('doomed', 'f')).status, 200);
    t.equal((await d.instances('doomed')).length, 1, 'one warm container');
    const del = await d.request('/system/modules/doomed', { method: 'DELETE', admin: true });
    t.equal(del.status, 204);
    t.equal((await d.instances('doomed')).length, 0, 'no container left, by label');
    t.equal((await d.call('doomed', 'f')).status, 404);
    t.equal((await d.request('/system/modules/doomed', { method: 'DELETE', admin: true })).status, 404);
  });

  t.test('deploys of one module are serialized', async (t) => {
    const sources = [1, 2, 3].map((n) => `def which(event, context):\n    return ${n}\n`);
    const results = await Promise.all(sources.map((s) => d.deploy('serial', s)));
    t.same(results.map((r) => r.status).sort(), [200, 200, 201], 'exactly one created it');
    t.same(await (await d.call('serial', 'which')).json(), 3, 'the last deploy wins');
  });
});
