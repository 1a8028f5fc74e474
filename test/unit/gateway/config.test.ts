import { availableParallelism } from 'node:os';
import t from 'tap';
import { loadConfig } from '../../../gateway/config.js';

t.test('defaults', async (t) => {
  const config = loadConfig({}, '/srv/app');
  t.equal(config.host, '127.0.0.1');
  t.equal(config.port, 8080);
  t.equal(config.dataDir, '/srv/app/data');
  t.equal(config.auth.adminToken, undefined);
  t.equal(config.auth.invokeToken, undefined);
  t.equal(config.limits.maxBodyBytes, 6 * 1024 * 1024);
  t.equal(config.builder.pythonImage, 'hearth/python:3.11');
  t.equal(config.builder.buildBaseImage, true);
  t.equal(config.pool.defaultTimeoutMs, 30_000);
  t.equal(config.pool.instanceUser, '1000:1000');
  t.equal(config.pool.startConcurrency, availableParallelism(), 'starts in turns, as many at once as there are CPUs');
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.pool), 'frozen, deeply');
});

t.test('reads HEARTH_* variables', async (t) => {
  const config = loadConfig(
    {
      HEARTH_HOST: '0.0.0.0',
      HEARTH_PORT: '0',
      HEARTH_DATA_DIR: '/var/lib/hearth',
      HEARTH_ADMIN_TOKEN: 'a',
      HEARTH_INVOKE_TOKEN: 'b',
      HEARTH_MAX_BODY_BYTES: '2048',
      HEARTH_BUILD_BASE_IMAGE: 'false',
      HEARTH_DEFAULT_TIMEOUT_MS: '1500',
      HEARTH_START_CONCURRENCY: '3',
    },
    '/x',
  );
  t.equal(config.host, '0.0.0.0');
  t.equal(config.port, 0);
  t.equal(config.dataDir, '/var/lib/hearth');
  t.equal(config.auth.adminToken, 'a');
  t.equal(config.auth.invokeToken, 'b');
  t.equal(config.limits.maxBodyBytes, 2048);
  t.equal(config.builder.buildBaseImage, false);
  t.equal(config.pool.defaultTimeoutMs, 1500);
  t.equal(config.pool.startConcurrency, 3);
});

t.test('bad values name the variable, what was expected and what was given', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ HEARTH_PORT: 'eighty' }, /HEARTH_PORT: expected an integer from 0 to 65535, got "eighty"/],
    [{ HEARTH_PORT: '70000' }, /HEARTH_PORT/],
    [{ HEARTH_BUILD_BASE_IMAGE: 'maybe' }, /HEARTH_BUILD_BASE_IMAGE: expected true or false/],
    [{ HEARTH_LOG_LEVEL: 'loud' }, /HEARTH_LOG_LEVEL: expected one of/],
    [{ HEARTH_INSTANCE_USER: '0:0' }, /non-root/],
    [{ HEARTH_DEFAULT_TIMEOUT_MS: '0' }, /HEARTH_DEFAULT_TIMEOUT_MS/],
    [{ HEARTH_START_CONCURRENCY: '0' }, /HEARTH_START_CONCURRENCY: expected an integer from 1 to 1024/],
  ];
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { code: 'CONFIG_INVALID', message }, JSON.stringify(env));
  }
});

t.test('driver choice and process driver settings', async (t) => {
  const defaults = loadConfig({}, '/x');
  t.equal(defaults.driver, 'auto');
  t.same(defaults.process, { python: undefined, sandbox: 'auto', uidBase: 200_000, searchPath: '/usr/local/bin:/usr/bin:/bin' });
  const set = loadConfig({ HEARTH_DRIVER: 'process', HEARTH_SANDBOX: 'none', HEARTH_PYTHON: '/opt/py/bin/python3', HEARTH_PROCESS_UID_BASE: '300000', PATH: '/a:/b' }, '/x');
  t.equal(set.driver, 'process');
  t.same(set.process, { python: '/opt/py/bin/python3', sandbox: 'none', uidBase: 300_000, searchPath: '/a:/b' });
  t.throws(() => loadConfig({ HEARTH_DRIVER: 'podman' }), { code: 'CONFIG_INVALID', message: 'HEARTH_DRIVER: expected one of auto|docker|process, got "podman"' });
  t.throws(() => loadConfig({ HEARTH_SANDBOX: 'firejail' }), { message: /HEARTH_SANDBOX: expected one of auto\|bwrap\|none/ });
  t.throws(() => loadConfig({ HEARTH_PROCESS_UID_BASE: '0' }), { message: /HEARTH_PROCESS_UID_BASE/ }, 'never root');
});

t.test('workflow limits', async (t) => {
  t.same(loadConfig({}).workflows, { maxNodes: 100, maxSteps: 1000, maxRunMs: 900_000, maxDataBytes: 1024 * 1024, concurrency: 16 });
  const config = loadConfig({
    HEARTH_WORKFLOW_MAX_NODES: '5',
    HEARTH_WORKFLOW_MAX_STEPS: '7',
    HEARTH_WORKFLOW_MAX_RUN_MS: '1000',
    HEARTH_WORKFLOW_MAX_DATA_BYTES: '4096',
    HEARTH_WORKFLOW_CONCURRENCY: '2',
  });
  t.same(config.workflows, { maxNodes: 5, maxSteps: 7, maxRunMs: 1000, maxDataBytes: 4096, concurrency: 2 });
  t.throws(() => loadConfig({ HEARTH_WORKFLOW_MAX_NODES: '0' }), /HEARTH_WORKFLOW_MAX_NODES: expected an integer from 1/);
});

t.test('log format', async (t) => {
  t.equal(loadConfig({}).logFormat, 'auto');
  t.equal(loadConfig({ HEARTH_LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
  t.throws(() => loadConfig({ HEARTH_LOG_FORMAT: 'xml' }), /HEARTH_LOG_FORMAT/);
});
