import t from 'tap';
import { sandboxCommand } from '../../../pool/drivers/sandbox.js';
import { UidPool } from '../../../pool/drivers/uid-pool.js';

const debian = { executable: '/usr/bin/python3.11', version: '3.11.2', prefix: '/usr' };
const run = { args: ['/b/hearth_runtime.py', 'serve'], readOnly: ['/data/builds/m-1'], writable: ['/data/run/abc'], network: false, env: { LD_PRELOAD: '/data/builds/m-1/code/x.so', A: '1' } };

t.test('without bubblewrap the interpreter runs directly', async (t) => {
  t.same(sandboxCommand(debian, undefined, run), { file: '/usr/bin/python3.11', args: ['/b/hearth_runtime.py', 'serve'], env: run.env });
});

t.test('with bubblewrap: every namespace, the system read-only, the build read-only, the run dir writable', async (t) => {
  const { file, args, env } = sandboxCommand(debian, { path: '/usr/bin/bwrap', version: '0.8.0' }, run);
  t.equal(file, '/usr/bin/bwrap');
  t.same(env, {}, "the module's variables (LD_PRELOAD here) never reach bwrap itself");
  t.ok(args.join(' ').includes('--clearenv --setenv LD_PRELOAD /data/builds/m-1/code/x.so --setenv A 1'), 'they are set inside the sandbox');
  t.equal(args[0], '--unshare-all');
  t.notOk(args.includes('--share-net'), 'no network');
  t.ok(args.includes('--die-with-parent'));
  const pairs = (flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
  t.ok(pairs('--ro-bind-try').includes('/usr'));
  t.ok(pairs('--ro-bind-try').includes('/etc/python3.11'), "Debian's per-version config");
  t.notOk(pairs('--ro-bind-try').includes('/etc'), 'not the whole of /etc');
  t.same(pairs('--ro-bind'), ['/data/builds/m-1'], 'the prefix under /usr needs no extra bind');
  t.same(pairs('--bind'), ['/data/run/abc']);
  t.ok(args.indexOf('--tmpfs') < args.indexOf('--bind'), 'a data dir under /tmp is bound over the private /tmp, not hidden by it');
  t.same(args.slice(args.indexOf('--')), ['--', '/usr/bin/python3.11', '/b/hearth_runtime.py', 'serve']);
});

t.test('network: true shares the host network; an interpreter outside /usr is bound read-only', async (t) => {
  const pyenv = { executable: '/opt/py/bin/python3', version: '3.12.1', prefix: '/opt/py' };
  const { args } = sandboxCommand(pyenv, { path: 'bwrap', version: '0.8.0' }, { ...run, network: true });
  t.ok(args.includes('--share-net'));
  t.ok(args.join(' ').includes('--ro-bind /opt/py /opt/py'));
});

t.test('uid pool: lowest free first, reused after release, exhausted with a clear error', async (t) => {
  const pool = new UidPool(200001, 2);
  t.equal(pool.acquire(), 200001);
  t.equal(pool.acquire(), 200002);
  t.throws(() => pool.acquire(), /all 2 instance uids from 200001 are in use/);
  pool.release(200001);
  t.equal(pool.acquire(), 200001);
});
