import Docker from 'dockerode';
import t from 'tap';
import { requireDocker } from '../helpers/docker.js';
import { startDaemon } from '../helpers/daemon.js';

// A daemon whose base image is missing makes it from Debian packages at start
// (scripts/build-base-image.sh via mmdebstrap, imported through the Docker API).

if (await requireDocker(t)) {
  const docker = new Docker();
  const base = `hearth/python-basetest:${process.pid}`;
  t.teardown(async () => {
    const images = await docker.listImages({ filters: { reference: [base, 'hearth/base-probe:*'] } });
    for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  });

  t.test('the base image is built when missing, and functions run on it', async (t) => {
    t.notOk((await docker.listImages({ filters: { reference: [base] } })).length, 'missing before the start');
    const d = await startDaemon(t, { env: { HEARTH_PYTHON_IMAGE: base } });
    const inspect = await docker.getImage(base).inspect();
    t.ok(inspect.Id, 'the daemon made it');
    t.match(inspect.Config.Env, ['PYTHONDONTWRITEBYTECODE=1', 'PYTHONUNBUFFERED=1', 'HOME=/tmp']);
    t.equal((await d.deploy('base_probe', 'import sys\n\ndef version(event, context):\n    return sys.version_info[0]\n')).status, 201);
    t.same(await (await d.call('base_probe', 'version')).json(), 3);
  });

  t.test('with HEARTH_BUILD_BASE_IMAGE=false a missing base image is a clear start error', async (t) => {
    await t.rejects(startDaemon(t, { env: { HEARTH_PYTHON_IMAGE: 'hearth/none:missing', HEARTH_BUILD_BASE_IMAGE: 'false' } }), {
      code: 'BASE_IMAGE_MISSING',
      message: /base image hearth\/none:missing is missing: run scripts\/build-base-image.sh/,
    });
  });
}
