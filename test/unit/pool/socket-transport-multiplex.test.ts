import { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { fakeRuntime, ok, success, transport, type Fake } from '../../helpers/raw-runtime.js';

// Multiplexed calls (runtime 4 on): a runtime whose health check says
// X-Hearth-Multiplex: 1 gets concurrent calls on one connection, each naming a
// token its reply names back, answered in any order.

const TOKEN = /\r\nX-Hearth-Call: ([A-Za-z0-9]+)\r\n/;

const tokenOf = (request: string): string | undefined => TOKEN.exec(request)?.[1];

/** A runtime that multiplexes: health checks say so; plain requests are answered at once; calls with a token go to `onCall`. */
async function multiplexing(t: Test, onCall: (request: string, token: string, socket: Socket) => void): Promise<Fake> {
  const fake = await fakeRuntime(t);
  fake.answer = (request, socket) => {
    const token = tokenOf(request);
    if (request.startsWith('GET /healthz')) socket.write(ok('{"ok":true}', 'X-Hearth-Multiplex: 1\r\n'));
    else if (token === undefined) socket.write(success('"plain"'));
    else onCall(request, token, socket);
  };
  return fake;
}

/**
 * From now on `fake` holds plain requests unanswered, so every call after one
 * is multiplexed; multiplexed calls are answered as before. The returned
 * function answers the held plain request with "plain".
 */
function holdPlain(fake: Fake): () => void {
  let held: Socket | undefined;
  const answer = fake.answer;
  fake.answer = (request, socket) => {
    if (tokenOf(request) === undefined) held = socket;
    else answer(request, socket);
  };
  return () => (held as Socket).write(success('"plain"'));
}

const bodyN = (request: string): string => /"n":(\d+)/.exec(request)?.[1] ?? '?';

t.test('concurrent calls share one connection, leave in one write, and each gets its own reply in any order', async (t) => {
  const held: [string, string, Socket][] = [];
  const fake = await multiplexing(t, (request, token, socket) => {
    if (bodyN(request) === '0') {
      socket.write(success('0', `X-Hearth-Call: ${token}\r\n`));
      return;
    }
    held.push([request, token, socket]);
    if (held.length < 5) return;
    // All five at once, in reverse order, in one write: the client must split and match them.
    socket.write(held.reverse().map(([r, tk]) => success(bodyN(r), `X-Hearth-Call: ${tk}\r\n`)).join(''));
  });
  const client = transport(t, fake);
  t.equal(await client.ready(), true);
  // A plain call held open, so every call after it is multiplexed; one call opens the multiplexed connection.
  const releasePlain = holdPlain(fake);
  const plain = client.send('f', '{"n":9}');
  t.equal((await client.send('f', '{"n":0}')).resultJson.toString(), '0');
  // Count the writes the client's sockets ask for (the fake server shares this process: it would read them together anyway).
  let writes = 0;
  const { _write: write, _writev: writev } = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  const counted = (original: (...args: unknown[]) => void) =>
    function (this: Socket & { server?: unknown }, ...args: unknown[]) {
      if (!this.server) writes += 1;
      original.apply(this, args);
    };
  Object.assign(Socket.prototype, { _write: counted(write), _writev: counted(writev) });
  t.teardown(() => Object.assign(Socket.prototype, { _write: write, _writev: writev }));
  const calls = Array.from({ length: 5 }, (_, n) => client.send('f', `{"n":${n + 1}}`));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(writes, 2, 'five calls in one turn, two writes: the first at once, the other four together');
  const replies = await Promise.all(calls);
  t.same(
    replies.map((reply) => reply.resultJson.toString()),
    ['1', '2', '3', '4', '5'],
    'every call got the reply naming its token',
  );
  releasePlain();
  t.equal((await plain).resultJson.toString(), '"plain"');
  t.equal(fake.connections, 2, 'the plain connection and one multiplexed connection');
  const tokens = fake.requests.map(tokenOf).filter((token) => token !== undefined);
  t.equal(new Set(tokens).size, 6, 'six distinct tokens');
  t.equal(tokenOf(fake.requests[1] as string), undefined, 'the lone first call carries no token');
});

t.test('a lone call takes the plain connection and carries no token; calls alongside it are multiplexed', async (t) => {
  const fake = await multiplexing(t, (_request, token, socket) => socket.write(success('"mux"', `X-Hearth-Call: ${token}\r\n`)));
  const client = transport(t, fake);
  await client.ready();
  t.equal((await client.send('f', '{}')).resultJson.toString(), '"plain"');
  // A plain call held open: the next call must not wait behind it.
  const release = holdPlain(fake);
  const slow = client.send('f', '{}');
  t.equal((await client.send('f', '{}')).resultJson.toString(), '"mux"', 'the second call went multiplexed, past the held one');
  release();
  t.equal((await slow).resultJson.toString(), '"plain"');
});

t.test('a reply naming no call in flight fails every call on the connection; the next call reconnects', async (t) => {
  let calls = 0;
  const fake = await multiplexing(t, (_request, _token, socket) => {
    calls += 1;
    if (calls === 2) socket.write(success('0', 'X-Hearth-Call: zz\r\n'));
  });
  const client = transport(t, fake);
  await client.ready();
  const plain = client.send('f', '{}');
  const first = client.send('f', '{}');
  const second = client.send('f', '{}');
  await t.rejects(first, { code: 'INSTANCE_PROTOCOL_ERROR', message: /answered a call nobody made \(X-Hearth-Call: "zz"\)/ });
  await t.rejects(second, { code: 'INSTANCE_PROTOCOL_ERROR' });
  t.equal((await plain).resultJson.toString(), '"plain"', 'the plain connection is not touched');
  fake.answer = (request, socket) => socket.write(success('"again"', `X-Hearth-Call: ${tokenOf(request) ?? ''}\r\n`));
  const hold = client.send('f', '{}');
  t.equal((await client.send('f', '{}')).resultJson.toString(), '"again"');
  await hold;
  t.equal(fake.connections, 3, 'a new multiplexed connection');
});

t.test('the multiplexed connection closing fails the calls on it; close() fails the rest and refuses later ones', async (t) => {
  const fake = await multiplexing(t, (_request, _token, socket) => socket.destroy());
  const client = transport(t, fake);
  await client.ready();
  fake.answer = (request, socket) => (tokenOf(request) === undefined ? undefined : socket.destroy());
  const plain = client.send('f', '{}');
  await t.rejects(client.send('f', '{}'), { message: /closed the connection/ });
  await client.close();
  await t.rejects(plain, { message: /closed/ });
  await t.rejects(client.send('f', '{}'), { message: /closed/ });
});

t.test('an older runtime (no X-Hearth-Multiplex) keeps one call per connection and no tokens', async (t) => {
  const fake = await fakeRuntime(t);
  fake.answer = (request, socket) => socket.write(request.startsWith('GET') ? ok('{"ok":true}') : success('1'));
  const client = transport(t, fake, 3);
  await client.ready();
  const replies = await Promise.all(Array.from({ length: 3 }, () => client.send('f', '{}')));
  t.equal(replies.length, 3);
  t.notOk(fake.requests.some((request) => tokenOf(request) !== undefined), 'no request carries a token');
  t.ok(fake.reads.every((read) => read.requests <= 1), 'one request per write');
  t.equal(fake.connections, 3);
});

t.test('bytes after the last reply a multiplexed connection owes end it; the next call opens a new one', async (t) => {
  const fake = await multiplexing(t, (_request, token, socket) => socket.write(`${success('1', `X-Hearth-Call: ${token}\r\n`)}GARBAGE`));
  const client = transport(t, fake);
  await client.ready();
  const releasePlain = holdPlain(fake);
  const plain = client.send('f', '{}');
  t.equal((await client.send('f', '{}')).resultJson.toString(), '1', 'the reply itself was whole');
  fake.answer = (request, socket) => socket.write(success('2', `X-Hearth-Call: ${tokenOf(request) ?? ''}\r\n`));
  t.equal((await client.send('f', '{}')).resultJson.toString(), '2', 'the next call is not blamed for them');
  t.equal(fake.connections, 3, 'on a new multiplexed connection');
  releasePlain();
  await plain;
});
