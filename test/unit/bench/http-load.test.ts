import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { httpLoad } from '../../../bench/http-load.js';

/** Listens on a free loopback port; the target to load it. */
async function loopback(server: Server | HttpServer): Promise<{ host: string; port: number }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}

/** An HTTP server answering every 7th request 500, with a body large enough to arrive in several chunks. */
function answering() {
  const seen = { served: 0, connections: 0, requests: new Set<string>() };
  const answer = JSON.stringify({ ok: true, pad: 'x'.repeat(200_000) });
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.served += 1;
      seen.requests.add(`${req.method} ${req.url} ${body}`);
      res.writeHead(seen.served % 7 === 0 ? 500 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  server.on('connection', () => (seen.connections += 1));
  return { server, seen };
}

for (const over of ['tcp', 'unix'] as const) {
  t.test(`over ${over}: one count per answer, each read whole; non-200 answers are errors; the connections asked for`, async (t) => {
    const { server, seen } = answering();
    t.teardown(() => server.close());
    let target: Parameters<typeof httpLoad>[0]['target'];
    if (over === 'tcp') {
      target = await loopback(server);
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'hearth-load-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const socketPath = join(dir, 'fn.sock');
      server.listen(socketPath);
      await once(server, 'listening');
      target = { socketPath };
    }
    const started = performance.now();
    const result = await httpLoad({ target, path: '/function/m/f', body: '{"n":1}', connections: 4, durationMs: 1000 });
    const wallS = (performance.now() - started) / 1000;
    t.ok(result.requests >= 4, `load was made (${result.requests})`);
    t.equal(result.requests, seen.served, 'one count per answer, none after the stop');
    t.equal(result.errors, Math.floor(seen.served / 7), 'every non-200 answer is an error');
    t.equal(seen.connections, 4, 'as many connections as asked, kept alive');
    t.same([...seen.requests], ['POST /function/m/f {"n":1}']);
    const expected = result.requests / wallS;
    t.ok(result.rps > expected * 0.8 && result.rps < expected * 1.2, `rps ${result.rps} is answers over the run's wall time (${Math.round(expected)})`);
    t.ok(result.cpuUsPerRequest > 0);
  });
}

t.test('a status line without a reason phrase is a 200 too', async (t) => {
  const server = createNetServer((socket) => socket.on('data', () => socket.write('HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n{}')));
  t.teardown(() => server.close());
  const result = await httpLoad({ target: await loopback(server), path: '/', body: '{}', connections: 1, durationMs: 200 });
  t.ok(result.requests > 0);
  t.equal(result.errors, 0);
});

t.test('an answer without Content-Length, bytes past an answer, a dropped connection and a server that never answers are errors; the run still ends', async (t) => {
  const sockets = new Set<Socket>();
  let n = 0;
  const server = createNetServer((socket) => {
    sockets.add(socket);
    const kind = n++;
    socket.once('data', () => {
      if (kind === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
      else if (kind === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n');
      else if (kind === 2) socket.destroy();
      // The fourth never answers.
    });
  });
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const target = await loopback(server);
  const started = Date.now();
  const result = await httpLoad({ target, path: '/', body: '{}', connections: 4, durationMs: 100, hangMs: 300 });
  t.equal(result.requests, 0);
  t.equal(result.errors, 4, 'one per connection');
  t.ok(Date.now() - started < 3000, 'the hung connection is given up after its grace');
});
