import t from 'tap';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { buildContext, buildNeedsNetwork, renderDockerfile } from '../../../builder/build-context.js';
import { contentHash, imageTag } from '../../../builder/image-tag.js';
import type { ModulePackage } from '../../../builder/index.js';

const pkg = (files: Record<string, string>, requirements?: string): ModulePackage => ({
  module: 'my_module',
  files: new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])),
  requirements,
});
const runtimeFiles = new Map([
  ['hearth_runtime.py', Buffer.from('# runtime')],
  ['_hearth_http.py', Buffer.from('# server')],
]);
const options = { baseImage: 'hearth/python:3.11', runtimeFiles, labels: { 'hearth.module': 'my_module' } };

async function entries(context: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (...args: unknown[]) => chunks.push(args[0] as Buffer));
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks).toString());
      next();
    });
  });
  Readable.from([context]).pipe(extract);
  await new Promise<void>((resolve) => extract.on('finish', () => resolve()));
  return out;
}

t.test('the context holds the Dockerfile, the runtime and the code', async (t) => {
  const files = await entries(await buildContext(pkg({ 'my_module.py': 'def f(e, c): pass' }), options));
  t.same([...files.keys()], ['Dockerfile', 'runtime/hearth_runtime.py', 'runtime/_hearth_http.py', 'code/my_module.py']);
  t.equal(files.get('runtime/hearth_runtime.py'), '# runtime');
  t.equal(files.get('runtime/_hearth_http.py'), '# server');
  const dockerfile = files.get('Dockerfile') ?? '';
  t.match(dockerfile, /^FROM hearth\/python:3.11\n/);
  t.match(dockerfile, /\nCOPY runtime\/ \/opt\/hearth\/\n/, 'the runtime files land side by side');
  t.match(dockerfile, /RUN python3 \/opt\/hearth\/hearth_runtime.py compile/);
  t.match(dockerfile, /USER 65534:65534\nRUN HEARTH_PHASE=build python3 \/opt\/hearth\/hearth_runtime.py check .* --module my_module/);
  t.notMatch(dockerfile, /pip install/, 'no requirements, no pip');
});

t.test('identical inputs give byte-identical contexts', async (t) => {
  const a = await buildContext(pkg({ 'my_module.py': 'x', 'b.py': 'y' }), options);
  const b = await buildContext(pkg({ 'b.py': 'y', 'my_module.py': 'x' }), options);
  t.ok(a.equals(b));
});

t.test('requirements install offline from bundled wheels, else from the index', async (t) => {
  const offline = renderDockerfile(pkg({ 'my_module.py': 'x', 'wheels/six-1.0-py3-none-any.whl': 'w' }, 'six'), options);
  t.match(offline, /pip install .*--no-index --find-links \/opt\/hearth\/code\/wheels --target \/opt\/hearth\/deps/);
  const online = renderDockerfile(pkg({ 'my_module.py': 'x' }, 'six'), options);
  t.match(online, /pip install .*--retries 1/);
  t.notMatch(online, /--no-index/);
});

t.test('the content hash moves with every input and nothing else', async (t) => {
  const base = contentHash(pkg({ 'my_module.py': 'x' }), 'r1', 'img');
  t.match(base, /^[0-9a-f]{12}$/);
  t.equal(contentHash(pkg({ 'my_module.py': 'x' }), 'r1', 'img'), base);
  t.not(contentHash(pkg({ 'my_module.py': 'y' }), 'r1', 'img'), base, 'code');
  t.not(contentHash(pkg({ 'my_module.py': 'x' }, 'six'), 'r1', 'img'), base, 'requirements');
  t.not(contentHash(pkg({ 'my_module.py': 'x' }), 'r2', 'img'), base, 'runtime');
  t.not(contentHash(pkg({ 'my_module.py': 'x' }), 'r1', 'img2'), base, 'base image');
  t.not(contentHash(pkg({ 'my_module.py': 'x', 'a.py': '' }), 'r1', 'img'), base, 'an added file');
});

t.test('image tags are valid Docker references', async (t) => {
  t.equal(imageTag('my_module', 'abc'), 'hearth/my-module:abc');
  t.equal(imageTag('_Private__X_', 'abc'), 'hearth/private-x:abc');
  t.equal(imageTag('___', 'abc'), 'hearth/module:abc');
});

t.test('the build needs the network only for requirements without bundled wheels', async (t) => {
  t.notOk(buildNeedsNetwork(pkg({ 'my_module.py': 'x' })), 'no requirements');
  t.ok(buildNeedsNetwork(pkg({ 'my_module.py': 'x' }, 'six')), 'requirements from the index');
  t.notOk(buildNeedsNetwork(pkg({ 'my_module.py': 'x', 'wheels/six-1.0-py3-none-any.whl': 'w' }, 'six')), 'bundled wheels');
  t.ok(buildNeedsNetwork(pkg({ 'my_module.py': 'x', 'wheels/README.txt': 'no wheels here' }, 'six')), 'a wheels/ folder without wheels');
});
