import { request as httpRequest } from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { eventually, makeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';

// Local object storage through the HTTP API, on a real SQLite file and real files.
// Buckets involve no instance, so the process driver serves.

/** A PUT with the path exactly as given (no URL normalization). */
function rawPut(base: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'PUT', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'text/plain' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const put = (d: TestDaemon, path: string, body: BodyInit, type = 'application/octet-stream'): Promise<Response> =>
  d.request(path, { method: 'PUT', admin: true, headers: { 'content-type': type }, body });

t.test('buckets and objects', async (t) => {
  const dataDir = await makeDataDir(t);
  let d = await startDaemon(t, { driver: 'process', dataDir, env: { HEARTH_MAX_OBJECT_BYTES: '65536' } });
  const files = async (bucket: string): Promise<string[]> => readdir(join(dataDir, 'buckets', bucket));

  t.test('create, list, bad names, the token', async (t) => {
    t.equal((await d.request('/buckets/in', { method: 'PUT', admin: true })).status, 201);
    t.equal((await d.request('/buckets/in', { method: 'PUT', admin: true })).status, 200, 'creating again is fine');
    t.equal((await d.request('/buckets/photos.out', { method: 'PUT', admin: true })).status, 201);
    for (const bad of ['UP', 'a.', '-x-', 'a..b', 'a_b', 'b'.repeat(64)]) t.equal((await d.request(`/buckets/${bad}`, { method: 'PUT', admin: true })).status, 400, `bucket ${bad}`);
    t.equal((await d.request('/buckets/in', { method: 'PUT' })).status, 401);
    t.match(await (await d.request('/buckets', { admin: true })).json(), { buckets: [{ name: 'in', objects: 0, bytes: 0 }, { name: 'photos.out' }] });
  });

  t.test('upload, download, replace, list by prefix with a cursor, delete', async (t) => {
    const up = await put(d, '/buckets/in/objects/cats/tom.txt', 'meow', 'text/plain');
    t.equal(up.status, 201);
    t.match(await up.json(), { bucket: 'in', key: 'cats/tom.txt', size: 4, contentType: 'text/plain', sha256: /^[0-9a-f]{64}$/ });
    const down = await d.request('/buckets/in/objects/cats/tom.txt', { admin: true });
    t.equal(down.status, 200);
    t.equal(await down.text(), 'meow');
    t.equal(down.headers.get('content-type'), 'text/plain');
    t.match(down.headers.get('etag'), /^"[0-9a-f]{64}"$/);

    const bytes = Buffer.alloc(40_000, 7);
    t.equal((await put(d, '/buckets/in/objects/cats/tom.txt', bytes)).status, 201, 'replaced');
    t.same(Buffer.from(await (await d.request('/buckets/in/objects/cats/tom.txt', { admin: true })).arrayBuffer()), bytes);
    t.equal((await files('in')).length, 1, "the replaced object's file is gone");

    for (const key of ['cats/felix.png', 'dogs/rex.png', 'cats/a b%c.png', 'cats/z/deep.png']) t.equal((await put(d, `/buckets/in/objects/${encodeURI(key)}`, key)).status, 201, key);
    const first = (await (await d.request('/buckets/in/objects?prefix=cats/&limit=2', { admin: true })).json()) as { objects: { key: string }[]; nextCursor: string };
    t.same(first.objects.map((o) => o.key), ['cats/a b%c.png', 'cats/felix.png']);
    const rest = (await (await d.request(`/buckets/in/objects?prefix=cats/&limit=2&cursor=${first.nextCursor}`, { admin: true })).json()) as { objects: { key: string }[]; nextCursor: string | null };
    t.same(rest.objects.map((o) => o.key), ['cats/tom.txt', 'cats/z/deep.png']);
    const all = (await (await d.request('/buckets/in/objects', { admin: true })).json()) as { objects: unknown[] };
    t.equal(all.objects.length, 5);

    t.equal((await d.request('/buckets/in/objects/dogs/rex.png', { method: 'DELETE', admin: true })).status, 204);
    t.equal((await d.request('/buckets/in/objects/dogs/rex.png', { admin: true })).status, 404);
    t.equal((await d.request('/buckets/in/objects/dogs/rex.png', { method: 'DELETE', admin: true })).status, 404);
    t.equal((await d.request('/buckets/nope/objects/x', { admin: true })).status, 404, 'unknown bucket');
  });

  t.test('bad keys and oversize uploads are refused and store nothing', async (t) => {
    // Sent as raw HTTP: fetch would normalize . and .. segments and backslashes away before they left.
    for (const key of ['a//b', 'a/./b', 'x/', `${'k'.repeat(1100)}`, 'a%5Cb', 'sub/%2e%2e/etc', '../../etc/passwd', 'a/../../b', 'nul%00byte']) {
      const res = await rawPut(d.url, `/buckets/in/objects/${key}`, 'x');
      t.equal(res.status, 400, `key ${JSON.stringify(key.slice(0, 20))}`);
      t.match(JSON.parse(res.body), { error: { code: /INVALID_OBJECT_KEY|INVALID_REQUEST/ } });
    }
    t.same(((await (await d.request('/buckets/in/objects', { admin: true })).json()) as { objects: unknown[] }).objects.length, 4, 'nothing stored');
    const big = await put(d, '/buckets/in/objects/big.bin', Buffer.alloc(70_000));
    t.equal(big.status, 413);
    t.match(await big.json(), { error: { code: 'OBJECT_TOO_LARGE' } });
    t.equal((await d.request('/buckets/in/objects/big.bin', { admin: true })).status, 404);
    await eventually(async () => !(await files('in')).some((f) => f.startsWith('.upload-')), 5000, 'the temp file to go');
  });

  t.test('an upload cut off half-way is never visible', async (t) => {
    const url = new URL('/buckets/in/objects/half.bin', d.url);
    const req = httpRequest(url, { method: 'PUT', headers: { authorization: 'Bearer test-admin-token', 'content-length': '50000', 'content-type': 'application/octet-stream' } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(20_000, 1));
    await eventually(async () => (await files('in')).some((f) => f.startsWith('.upload-')), 5000, 'the upload to start');
    t.equal((await d.request('/buckets/in/objects/half.bin', { admin: true })).status, 404, 'not visible while it arrives');
    req.destroy();
    await eventually(async () => !(await files('in')).some((f) => f.startsWith('.upload-')), 5000, 'the cut upload to be discarded');
    t.equal((await d.request('/buckets/in/objects/half.bin', { admin: true })).status, 404);
  });

  t.test('a restart sweeps what a crash left; buckets delete only when empty', async (t) => {
    await writeFile(join(dataDir, 'buckets', 'in', '.upload-leftover'), 'partial');
    await writeFile(join(dataDir, 'buckets', 'in', 'deadbeef'), 'unreferenced');
    await d.close();
    d = await startDaemon(t, { driver: 'process', dataDir });
    const left = await files('in');
    t.notOk(left.includes('.upload-leftover') || left.includes('deadbeef'), 'swept');
    t.equal(await (await d.request('/buckets/in/objects/cats/tom.txt', { admin: true })).arrayBuffer().then((b) => b.byteLength), 40_000, 'objects survive');
    t.equal((await d.request('/buckets/in', { method: 'DELETE', admin: true })).status, 409);
    t.equal((await d.request('/buckets/photos.out', { method: 'DELETE', admin: true })).status, 204);
    t.equal((await d.request('/buckets/photos.out/objects', { admin: true })).status, 404);
  });
});
