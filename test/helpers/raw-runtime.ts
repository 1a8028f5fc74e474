import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { SocketTransport } from '../../pool/index.js';

// A raw Unix-socket server standing in for the runtime: it answers exactly the
// bytes each test gives it, well-formed or not, and keeps what it was sent.

export type Answer = (request: string, socket: Socket) => void;

export interface Fake {
  readonly path: string;
  /** Whole requests, in the order they arrived. */
  readonly requests: string[];
  /** Every piece read from a socket, as it arrived: which connection, how many whole requests it ended. */
  readonly reads: { readonly connection: number; readonly requests: number }[];
  connections: number;
  answer: Answer;
}

export const ok = (body: string, extra = ''): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

export const success = (result: string, extra = ''): string => {
  const head = '{"ok":true,"logs":"","durationMs":0.5,"result":';
  const start = Buffer.byteLength(head);
  return ok(`${head}${result}}`, `X-Hearth-Result: ${start}-${start + Buffer.byteLength(result)}\r\nX-Hearth-Duration-Ms: 0.5\r\n${extra}`);
};

export async function fakeRuntime(t: Test): Promise<Fake> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-st-'));
  const fake: Fake = { path: join(dir, 'fn.sock'), requests: [], reads: [], connections: 0, answer: (_request, socket) => socket.write(success('1')) };
  const server: Server = createServer((socket) => {
    fake.connections += 1;
    const connection = fake.connections;
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      const read = { connection, requests: 0 };
      fake.reads.push(read);
      // Whole requests only: a head, then Content-Length bytes.
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.slice(0, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        read.requests += 1;
        fake.requests.push(request);
        fake.answer(request, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(fake.path, resolve));
  t.teardown(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return fake;
}

export function transport(t: Test, fake: Fake, connections = 4): SocketTransport {
  const client = new SocketTransport(fake.path, connections);
  t.teardown(() => client.close());
  return client;
}
