import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import { httpLoad } from '../../../bench/http-load.js';

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

t.test('counts every answer the server gave, each body read whole, and the bodies it was sent', async (t) => {
  let served = 0;
  const bodies = new Set<string>();
  // A body large enough to arrive in several chunks, so framing by Content-Length is exercised.
  const answer = JSON.stringify({ ok: true, pad: 'x'.repeat(200_000) });
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      served += 1;
      bodies.add(`${req.method} ${req.url} ${body}`);
      res.writeHead(served % 7 === 0 ? 500 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  t.teardown(() => server.close());
  const port = await listen(server);
  const result = await httpLoad({ target: { host: '127.0.0.1', port }, path: '/function/m/f', body: '{"n":1}', connections: 4, durationMs: 300 });
  t.ok(result.requests > 10, `some load was made (${result.requests})`);
  t.equal(result.requests, served, 'one count per answer');
  t.equal(result.errors, Math.floor(served / 7), 'every non-200 answer is an error');
  t.same([...bodies], ['POST /function/m/f {"n":1}']);
  t.ok(result.rps > 0 && result.cpuUsPerRequest > 0);
});

t.test('an answer without Content-Length, a dropped connection and a server that never answers are errors, and the run still ends', async (t) => {
  const sockets = new Set<Socket>();
  let n = 0;
  const server = createNetServer((socket) => {
    sockets.add(socket);
    const kind = n++;
    socket.once('data', () => {
      if (kind === 0) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
      else if (kind === 1) socket.destroy();
      // The third never answers.
    });
  });
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const port = await listen(server);
  const started = Date.now();
  const result = await httpLoad({ target: { host: '127.0.0.1', port }, path: '/', body: '{}', connections: 3, durationMs: 100, hangMs: 300 });
  t.equal(result.requests, 0);
  t.equal(result.errors, 3, 'one per connection');
  t.ok(Date.now() - started < 5000, 'the hung connection is given up after its grace');
});
