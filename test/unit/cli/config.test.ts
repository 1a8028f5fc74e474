import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadCliConfig } from '../../../cli/config.js';

t.test('where the CLI finds the daemon and its token', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data', 'admin-token'), 'local-token\n');
  const home = { HOME: join(dir, 'home') };
  t.same(loadCliConfig({}, home, dir), { url: 'http://127.0.0.1:8080', token: 'local-token' }, 'defaults: the local daemon and its token');
  t.same(loadCliConfig({}, { ...home, HEARTH_URL: 'http://build.example:8080/' }, dir), { url: 'http://build.example:8080', token: undefined }, 'the local token never goes to another host');
  t.same(loadCliConfig({ token: 'flag' }, { ...home, HEARTH_TOKEN: 'env' }, dir).token, 'flag', 'flags first');
  t.same(loadCliConfig({}, { ...home, HEARTH_TOKEN: 'env' }, dir).token, 'env');
  await writeFile(join(dir, 'cfg.json'), JSON.stringify({ url: 'http://10.0.0.5:9000', token: 'from-file' }));
  t.same(loadCliConfig({ config: join(dir, 'cfg.json') }, home, dir), { url: 'http://10.0.0.5:9000', token: 'from-file' });
  t.throws(() => loadCliConfig({ config: join(dir, 'missing.json') }, home, dir), /cannot read the config file/);
  t.throws(() => loadCliConfig({ url: 'not a url' }, home, dir), /not a URL/);
});
