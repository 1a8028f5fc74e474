import type { Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { SocketTransport } from '../../../pool/index.js';
import { fakeRuntime, ok, success, transport } from '../../helpers/raw-runtime.js';

// The container protocol's client against a raw Unix-socket server that answers
// exactly the bytes each test gives it, well-formed or not (test/helpers/raw-runtime.ts).

t.test('a call: one request written whole, the result handed on from its byte range', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  const reply = await client.send('handler', '{"event":{"n":1},"context":{}}');
  t.equal(fake.requests.length, 1);
  t.match(fake.requests[0], /^POST \/invoke\/handler HTTP\/1\.1\r\n/);
  t.match(fake.requests[0], /\r\nContent-Length: 30\r\n\r\n\{"event":\{"n":1\},"context":\{\}\}$/);
  t.ok(reply.ok);
  t.equal(reply.resultJson.toString(), '1');
  t.equal(reply.durationMs, 0.5);
  t.equal(reply.logs, '');
});

t.test('keep-alive: calls one after another share one connection', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  for (let i = 0; i < 5; i += 1) t.ok((await client.send('f', '{}')).ok);
  t.equal(fake.connections, 1);
});

t.test('at most `connections` at once; a call that finds them busy waits for the next free one', async (t) => {
  const fake = await fakeRuntime(t);
  const held: Socket[] = [];
  fake.answer = (_request, socket) => {
    held.push(socket);
  };
  const client = transport(t, fake, 2);
  const calls = Array.from({ length: 5 }, (_, i) => client.send('f', `{"i":${i}}`));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(fake.connections, 2, 'two connections');
  t.equal(fake.requests.length, 2, 'two requests under way, three waiting');
  fake.answer = (_request, socket) => socket.write(success('2'));
  for (const socket of held) socket.write(success('1'));
  const replies = await Promise.all(calls);
  t.same(
    replies.map((r) => r.resultJson.toString()),
    ['1', '1', '2', '2', '2'],
  );
  t.equal(fake.connections, 2, 'the waiting calls reused them');
});

t.test('a reply in many small pieces, and a large one, arrive whole', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  fake.answer = (_request, socket) => {
    const bytes = Buffer.from(success('{"a":"ü"}'));
    let at = 0;
    const drip = (): void => {
      socket.write(bytes.subarray(at, at + 3));
      at += 3;
      if (at < bytes.length) setImmediate(drip);
    };
    drip();
  };
  t.same((await client.send('f', '{}')).result, { a: 'ü' }, 'three bytes at a time, a character split between pieces');
  const big = JSON.stringify('x'.repeat(4 * 1024 * 1024));
  fake.answer = (_request, socket) => socket.write(success(big));
  t.equal((await client.send('f', '{}')).resultJson.length, big.length, '4 MiB');
});

t.test('404 names the missing function; 400 InvalidEvent is the event\'s fault; another answer is a protocol error', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  const answer = (status: string, body: string) => (_request: string, socket: Socket) =>
    socket.write(`HTTP/1.1 ${status}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  fake.answer = answer('404 Not Found', '{}');
  await t.rejects(client.send('nope', '{}'), { code: 'FUNCTION_NOT_FOUND' });
  fake.answer = answer('400 Bad Request', '{"ok":false,"error":{"type":"InvalidEvent","message":"nested too deeply"}}');
  await t.rejects(client.send('f', '{}'), { code: 'INVALID_EVENT', message: 'nested too deeply' });
  fake.answer = answer('400 Bad Request', '{"bad":"req"}');
  await t.rejects(client.send('f', '{}'), { code: 'INSTANCE_PROTOCOL_ERROR', message: /answered 400: \{"bad":"req"\}/ });
  fake.answer = answer('400 Bad Request', 'not json');
  await t.rejects(client.send('f', '{}'), { code: 'INSTANCE_PROTOCOL_ERROR', message: /answered 400: not json/ });
  fake.answer = answer('400 Bad Request', '{"ok":false,"error":{"type":"BadRequest","message":"malformed request line"}}');
  await t.rejects(client.send('f', '{}'), { code: 'INSTANCE_PROTOCOL_ERROR' }, 'a refusal of the request itself is ours, not the caller\'s');
  fake.answer = answer('500 Internal Server Error', '{"ok":false,"error":{"type":"InvalidEvent","message":"x"}}');
  await t.rejects(client.send('f', '{}'), { code: 'INSTANCE_PROTOCOL_ERROR' }, 'only a 400 says the event is at fault');
});

t.test('a name that is not an identifier never reaches the request line', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  await t.rejects(client.send('f HTTP/1.1\r\nX-Evil: 1\r\n\r\n', '{}'), { code: 'FUNCTION_NOT_FOUND' });
  t.equal(fake.requests.length, 0);
});

t.test('replies outside the protocol fail the call and end the connection; the next call opens a new one', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', /Transfer-Encoding/],
    ['no length', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}', /Content-Length/],
    ['bad status line', 'HTTP/9 OK\r\nContent-Length: 0\r\n\r\n', /malformed status line/],
    ['bad header line', 'HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n', /malformed header line/],
    ['extra bytes', `${ok('{}')}HTTP/1.1 200 OK`, /more bytes than its Content-Length/],
    ['huge head', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}`, /head over 65536 bytes/],
  ];
  for (const [name, bytes, message] of cases) {
    const fake = await fakeRuntime(t);
    const client = transport(t, fake);
    fake.answer = (_request, socket) => socket.write(bytes);
    await t.rejects(client.send('f', '{}'), { code: 'INSTANCE_PROTOCOL_ERROR', message }, name);
    fake.answer = (_request, socket) => socket.write(success('3'));
    t.equal((await client.send('f', '{}')).resultJson.toString(), '3', `${name}: the next call works`);
    t.equal(fake.connections, 2, `${name}: on a new connection`);
  }
});

t.test('Connection: close is honoured: the next call opens a new connection', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  fake.answer = (_request, socket) => socket.end(ok('{}', 'Connection: close\r\n'));
  await client.send('f', '{}');
  fake.answer = (_request, socket) => socket.write(success('4'));
  t.equal((await client.send('f', '{}')).resultJson.toString(), '4');
  t.equal(fake.connections, 2);
});

t.test('the instance closing the connection mid-call fails the call', async (t) => {
  const fake = await fakeRuntime(t);
  const client = transport(t, fake);
  fake.answer = (_request, socket) => socket.destroy();
  await t.rejects(client.send('f', '{}'), { message: /closed the connection/ });
  fake.answer = (_request, socket) => socket.write(success('5'));
  t.equal((await client.send('f', '{}')).resultJson.toString(), '5', 'and the next call gets a fresh connection');
});

t.test('close() fails calls under way and waiting, and refuses later ones', async (t) => {
  const fake = await fakeRuntime(t);
  fake.answer = () => undefined;
  const client = new SocketTransport(fake.path, 1);
  const underWay = client.send('f', '{}');
  const waiting = client.send('f', '{}');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await client.close();
  await t.rejects(underWay);
  await t.rejects(waiting, { message: /closed/ });
  await t.rejects(client.send('f', '{}'), { message: /closed/ });
});

t.test('ready(): false with no socket yet or no answer within a second, true on 200', async (t) => {
  const fake = await fakeRuntime(t);
  t.equal(await new SocketTransport(join(fake.path, '..', 'missing.sock'), 1).ready(), false, 'no socket');
  const client = transport(t, fake, 1);
  fake.answer = () => undefined;
  const started = Date.now();
  t.equal(await client.ready(), false, 'a runtime that never answers');
  t.ok(Date.now() - started >= 900, 'after the health check timeout');
  fake.answer = (_request, socket) => socket.write(ok('{"ok":true}'));
  t.equal(await client.ready(), true, 'answers 200');
  t.equal(fake.requests.at(-1), 'GET /healthz HTTP/1.1\r\nHost: hearth\r\n\r\n');
  t.equal((await client.send('f', '{}')).ok, true, 'the health check connection then serves calls');
});
