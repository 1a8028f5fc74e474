import { gzipSync } from 'node:zlib';
import { zipSync, strToU8 } from 'fflate';
import t from 'tap';
import tar from 'tar-stream';
import { readPackage } from '../../../builder/index.js';

async function tarOf(files: Record<string, string>, extra?: (pack: tar.Pack) => void): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name }, text);
  extra?.(pack);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function zipOf(files: Record<string, string>): Buffer {
  return Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]))));
}

t.test('source text becomes <module>.py', async (t) => {
  const pkg = await readPackage('m', { kind: 'source', source: 'x = 1' }, 'requests\n');
  t.same([...pkg.files.keys()], ['m.py']);
  t.equal(pkg.files.get('m.py')?.toString(), 'x = 1');
  t.equal(pkg.requirements, 'requests\n');
});

t.test('a .py upload is renamed to the module name', async (t) => {
  const pkg = await readPackage('m', { kind: 'file', filename: 'whatever.py', data: Buffer.from('y = 2') });
  t.same([...pkg.files.keys()], ['m.py']);
  t.equal(pkg.requirements, undefined);
});

t.test('a .zip package with requirements.txt', async (t) => {
  const data = zipOf({ 'm/__init__.py': 'from .core import f', 'm/core.py': 'def f(e, c): return 1', 'requirements.txt': 'six\n' });
  const pkg = await readPackage('m', { kind: 'file', filename: 'M.ZIP', data });
  t.same([...pkg.files.keys()].sort(), ['m/__init__.py', 'm/core.py']);
  t.equal(pkg.requirements, 'six\n', 'requirements.txt is taken out of the code');
});

t.test('a .tar.gz wrapped in one folder is unwrapped; caches are dropped', async (t) => {
  const data = gzipSync(await tarOf({ 'm-1.0/m.py': 'x=1', 'm-1.0/helpers.py': 'y=2', 'm-1.0/__pycache__/m.cpython-311.pyc': 'junk' }));
  const pkg = await readPackage('m', { kind: 'file', filename: 'm-1.0.tar.gz', data });
  t.same([...pkg.files.keys()].sort(), ['helpers.py', 'm.py']);
});

t.test('an explicit requirements field wins over the archive one; blank means none', async (t) => {
  const data = zipOf({ 'm.py': 'x=1', 'requirements.txt': 'six' });
  t.equal((await readPackage('m', { kind: 'file', filename: 'a.zip', data }, 'attrs')).requirements, 'attrs');
  t.equal((await readPackage('m', { kind: 'source', source: 'x' }, '  \n')).requirements, undefined);
});

t.test('refusals say what is wrong', async (t) => {
  await t.rejects(readPackage('m', { kind: 'file', filename: 'm.rar', data: Buffer.from('x') }), {
    code: 'INVALID_PACKAGE',
    message: /unsupported upload "m.rar"/,
  });
  await t.rejects(readPackage('m', { kind: 'file', filename: 'a.zip', data: zipOf({ 'other.py': 'x' }) }), {
    code: 'INVALID_PACKAGE',
    message: /neither m.py nor m\/__init__.py/,
  });
  await t.rejects(readPackage('m', { kind: 'file', filename: 'a.zip', data: zipOf({ 'm.py': 'x', '../evil.py': 'x' }) }), {
    code: 'INVALID_PACKAGE',
    message: /unsafe path/,
  });
  await t.rejects(readPackage('m', { kind: 'file', filename: 'a.zip', data: Buffer.from('not a zip') }), {
    code: 'INVALID_PACKAGE',
  });
  await t.rejects(readPackage('m', { kind: 'file', filename: 'a.tar.gz', data: Buffer.from('not gzip') }), {
    code: 'INVALID_PACKAGE',
    message: /could not be decompressed/,
  });
});

t.test('symlinks in a tar are not followed or kept', async (t) => {
  const data = await tarOf({ 'm.py': 'x=1' }, (pack) => pack.entry({ name: 'link', type: 'symlink', linkname: '/etc/passwd' }));
  const pkg = await readPackage('m', { kind: 'file', filename: 'p.tar', data });
  t.same([...pkg.files.keys()], ['m.py']);
});
