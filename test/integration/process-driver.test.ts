import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { eventually, makeDataDir, startDaemon } from '../helpers/daemon.js';
import { spawnDaemon } from '../helpers/daemon-child.js';

// What only the process driver has: the sandbox or its absence, the choice
// between drivers, and instances that must not outlive a SIGKILLed daemon.
// (The shared behaviour runs against both drivers in the other integration files.)

const bwrapPresent = await readdir('/usr/bin').then((names) => names.includes('bwrap'));

const PROBE = `import os, socket
INSTANCE = os.urandom(4).hex()

def who(event, context):
    return {"instance": INSTANCE, "interfaces": sorted(n for _, n in socket.if_nameindex()),
            "sees_host_root": os.path.exists("/root") or os.path.exists("/home")}
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of every hearth_runtime python serving from this data dir. */
async function runtimePids(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const argv0 = cmdline.split('\0')[0] ?? '';
    // Under bubblewrap each instance is bwrap, its init, and python: count the python.
    if (!argv0.endsWith('bwrap') && cmdline.includes('hearth_runtime.py') && cmdline.includes(join(dataDir, 'run'))) pids.push(Number(name));
  }
  return pids;
}

t.test('HEARTH_SANDBOX=bwrap: the sandboxed path, as CI runs it', async (t) => {
  if (!bwrapPresent) {
    if (process.env.HEARTH_REQUIRE_DOCKER === '1') t.fail('CI must install bubblewrap (.ci/run does)');
    else t.plan(0, 'skipped: bubblewrap is not installed');
    return;
  }
  const d = await startDaemon(t, { driver: 'process', env: { HEARTH_SANDBOX: 'bwrap' } });
  const info = (await (await d.request('/system/info', { admin: true })).json()) as { driver: Record<string, unknown> };
  t.match(info.driver, { name: 'process', sandbox: /^bubblewrap/, enforced: [/namespaces/, /read-only/, /no network/, /RLIMIT_AS/, /environment/] });
  t.equal((await d.deploy('boxed', PROBE)).status, 201);
  const seen = (await (await d.call('boxed', 'who')).json()) as { interfaces: string[]; sees_host_root: boolean };
  t.same(seen.interfaces, ['lo'], 'its own network namespace: loopback only');
  t.equal(seen.sees_host_root, false, "the host's home folders are out of view");
});

t.test('HEARTH_SANDBOX=none: the plain-process fallback still runs, limits and all, and says what it lacks', async (t) => {
  const d = await startDaemon(t, { driver: 'process', env: { HEARTH_SANDBOX: 'none' } });
  const health = (await (await d.request('/healthz')).json()) as { driver: string };
  t.equal(health.driver, 'process');
  const info = (await (await d.request('/system/info', { admin: true })).json()) as { driver: Record<string, unknown> };
  t.match(info.driver, { name: 'process', sandbox: 'none', notEnforced: [/cpus/, /file system and network isolation/] });
  const source = `${PROBE}
def hog(event, context):
    return len(bytearray(512 * 1024 * 1024))
`;
  t.equal((await d.deploy('plain', source, { memoryMb: 128 })).status, 201);
  const seen = (await (await d.call('plain', 'who')).json()) as { sees_host_root: boolean };
  t.equal(seen.sees_host_root, true, 'no mount namespace: the host file system is visible (as /system/info says)');
  const hog = await d.call('plain', 'hog');
  t.equal(hog.status, 500);
  t.match(await hog.json(), { error: { type: 'MemoryError', message: /limit is 128 MiB/ } }, 'RLIMIT_AS holds without a sandbox');
});

t.test('HEARTH_DRIVER=auto falls back to the process driver when no engine answers; docker refuses to start', async (t) => {
  const auto = await startDaemon(t, { driver: 'auto' as never, env: { HEARTH_DOCKER_SOCKET: '/nonexistent/docker.sock' } });
  t.equal(((await (await auto.request('/healthz')).json()) as { driver: string }).driver, 'process');
  t.equal((await auto.deploy('fallback', PROBE)).status, 201);
  t.equal((await auto.call('fallback', 'who')).status, 200, 'deploy and call work without Docker');
  await t.rejects(startDaemon(t, { driver: 'docker', env: { HEARTH_DOCKER_SOCKET: '/nonexistent/docker.sock' } }), {
    code: 'ENGINE_UNAVAILABLE',
    message: /no Docker engine answers/,
  });
});

for (const sandbox of ['auto', 'none']) {
  t.test(`SIGKILL of the daemon (sandbox ${sandbox}): its instances die with it, and the next start serves again`, async (t) => {
    const dataDir = await makeDataDir(t);
    const daemon = await spawnDaemon(t, { HEARTH_DRIVER: 'process', HEARTH_SANDBOX: sandbox, HEARTH_DATA_DIR: dataDir }, 30_000);
    const deploy = await daemon.deploy('survivor', PROBE, { minWarm: 2 });
    t.equal(deploy.status, 201);
    await eventually(async () => (await runtimePids(dataDir)).length === 2, 15_000, 'two warm instances');
    const pids = await runtimePids(dataDir);

    await daemon.kill();
    await eventually(async () => pids.every((pid) => !alive(pid)), 5000, 'the instances to die with the daemon');
    t.pass(`instances ${pids.join(', ')} are gone`);

    const next = await startDaemon(t, { driver: 'process', dataDir, env: { HEARTH_SANDBOX: sandbox } });
    t.equal((await next.call('survivor', 'who')).status, 200, 'the module answers after the restart');
    await eventually(async () => (await next.instances('survivor')).length === 2, 15_000, 'minWarm restored');
  });
}
