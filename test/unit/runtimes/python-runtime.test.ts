import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { RUNTIME_ENTRY, findRuntimeFile, loadPythonRuntime } from '../../../runtimes/index.js';

// The runtime is several files that travel together into every image and
// local build: all of them count in its digest, and the build-time compile
// byte-compiles the runtime's own modules with the user's code.

const run = promisify(execFile);

/** A copy of the runtime's files in a fresh folder, so a test can change or compile them. */
async function copyOfRuntime(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-runtime-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const runtime = await loadPythonRuntime();
  for (const name of runtime.files.keys()) await copyFile(join(dirname(runtime.path), name), join(dir, name));
  return dir;
}

t.test('the runtime is its entry point and the modules beside it', async (t) => {
  const runtime = await loadPythonRuntime();
  const names = [...runtime.files.keys()];
  t.equal(names[0], RUNTIME_ENTRY, 'the entry point comes first');
  t.ok(names.length > 1, 'modules travel with it');
  const onDisk = (await readdir(dirname(findRuntimeFile()))).filter((name) => name.endsWith('.py'));
  t.same([...names].sort(), onDisk.sort(), 'every .py file of runtimes/python is part of it');
  t.match(runtime.digest, /^[0-9a-f]{16}$/);
});

t.test('changing any one of its files changes the digest', async (t) => {
  const dir = await copyOfRuntime(t);
  const entry = join(dir, RUNTIME_ENTRY);
  const before = await loadPythonRuntime(entry);
  t.equal(before.digest, (await loadPythonRuntime()).digest, 'the same files give the same digest');
  for (const name of before.files.keys()) {
    const original = before.files.get(name) as Buffer;
    await writeFile(join(dir, name), Buffer.concat([original, Buffer.from('\n')]));
    t.not((await loadPythonRuntime(entry)).digest, before.digest, `a change to ${name}`);
    await writeFile(join(dir, name), original);
  }
});

t.test("compile byte-compiles the runtime's own modules with the user's code", async (t) => {
  const dir = await copyOfRuntime(t);
  await mkdir(join(dir, 'code'));
  await writeFile(join(dir, 'code', 'mod.py'), 'def f(event, context):\n    return 1\n');
  await run('python3', [join(dir, RUNTIME_ENTRY), 'compile', '--code', join(dir, 'code')], { env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1' } });
  const compiled = await readdir(join(dir, '__pycache__'));
  const runtime = await loadPythonRuntime(join(dir, RUNTIME_ENTRY));
  for (const name of runtime.files.keys()) {
    if (name === RUNTIME_ENTRY) continue; // a script is compiled when it runs, never loaded from .pyc
    t.ok(compiled.some((file) => file.startsWith(`${name.slice(0, -3)}.`) && file.endsWith('.pyc')), `${name} is compiled`);
  }
  t.ok((await readdir(join(dir, 'code', '__pycache__'))).some((file) => file.startsWith('mod.')), "the user's module is compiled");
});
