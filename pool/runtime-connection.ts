import { connect, type Socket } from 'node:net';
import { ProtocolError } from './errors.js';

/** One reply of the container protocol. Header names are lower case. */
export interface RuntimeHttpReply {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD_BYTES = 64 * 1024;

interface Pending {
  resolve(reply: RuntimeHttpReply): void;
  reject(err: Error): void;
}

interface Head {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly bodyStart: number;
  readonly length: number;
  readonly close: boolean;
}

/**
 * One keep-alive connection to an instance's Unix socket, speaking the subset
 * of HTTP/1.1 the container protocol uses (DESIGN.md section 3): a request is
 * written whole, and the runtime answers each with a Content-Length body.
 *
 * - A plain connection carries one request at a time (any runtime, health checks).
 * - A multiplexed one (`multiplexed: true`, runtimes that say `X-Hearth-Multiplex: 1`)
 *   carries many: each request names a token in `X-Hearth-Call`, its reply
 *   names it back, in whatever order the calls end. A request sent while
 *   others are in flight waits for the end of the event loop's turn, and all
 *   such requests of a turn leave in one write (the socket is corked until
 *   then); one sent with nothing else in flight is written at once. On 2
 *   cores the write system call per call was a fifth of the gateway's time.
 *
 * Anything else (chunked, extra bytes, an oversized head, a reply nobody asked
 * for) is a ProtocolError that ends the connection: the calls fail at once
 * (500 INSTANCE_PROTOCOL_ERROR), not after waiting for an exit that will not
 * come. undici did this job at about a quarter of the gateway's warm
 * throughput (docs/benchmarks.md).
 */
export class RuntimeConnection {
  private readonly socket: Socket;
  private readonly pending = new Map<string, Pending>();
  private chunks: Buffer[] = [];
  private size = 0;
  private head: Head | undefined;
  private ended = false;
  private nextToken = 0;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** `onEnd` runs once, when the connection can no longer be used. */
  constructor(
    socketPath: string,
    private readonly onEnd: (connection: RuntimeConnection) => void,
    readonly multiplexed = false,
  ) {
    this.socket = connect(socketPath);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.end(err));
    this.socket.on('close', () => this.end(new Error('the instance closed the connection')));
  }

  get usable(): boolean {
    return !this.ended;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends one request and resolves with its reply. `head` is the request line
   * and headers, each ending in CRLF, without the blank line; `body` follows it.
   */
  send(head: string, body = ''): Promise<RuntimeHttpReply> {
    if (this.ended) return Promise.reject(new Error('the connection to the instance is closed'));
    if (!this.multiplexed && this.pending.size > 0) return Promise.reject(new Error('a request is already under way on this connection'));
    return new Promise<RuntimeHttpReply>((resolve, reject) => {
      if (!this.multiplexed) {
        this.pending.set('', { resolve, reject });
        this.socket.write(`${head}\r\n${body}`);
        return;
      }
      const token = (this.nextToken++).toString(36);
      this.pending.set(token, { resolve, reject });
      if (!this.corked && this.pending.size > 1) {
        this.corked = true;
        this.socket.cork();
        setImmediate(this.uncork);
      }
      this.socket.write(`${head}X-Hearth-Call: ${token}\r\n\r\n${body}`);
    });
  }

  /** Ends the connection; requests under way fail with `reason`. */
  destroy(reason = new Error('the connection to the instance was closed')): void {
    this.end(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.pending.size === 0) {
      this.end(new ProtocolError('the instance sent bytes nobody asked for'));
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    // One chunk may end one reply and hold whole others (a multiplexed connection).
    while (!this.ended) {
      if (this.head === undefined) {
        const buffer = this.joined();
        const at = buffer.indexOf(HEAD_END);
        if (at < 0) {
          if (this.size > MAX_HEAD_BYTES) this.end(new ProtocolError(`the instance sent a reply head over ${MAX_HEAD_BYTES} bytes`));
          return;
        }
        try {
          this.head = parseHead(buffer.toString('latin1', 0, at), at + HEAD_END.length);
        } catch (err) {
          this.end(err as Error);
          return;
        }
      }
      const head = this.head;
      const end = head.bodyStart + head.length;
      if (this.size < end) return;
      if (this.size > end && !this.multiplexed) {
        this.end(new ProtocolError('the instance sent more bytes than its Content-Length'));
        return;
      }
      const buffer = this.joined();
      const reply: RuntimeHttpReply = { status: head.status, headers: head.headers, body: buffer.subarray(head.bodyStart, end) };
      this.head = undefined;
      this.chunks = this.size > end ? [buffer.subarray(end)] : [];
      this.size -= end;
      this.deliver(reply, head.close);
      if (this.size === 0) return;
      if (this.pending.size === 0) {
        this.end(new ProtocolError('the instance sent bytes nobody asked for'));
        return;
      }
    }
  }

  private deliver(reply: RuntimeHttpReply, close: boolean): void {
    const token = this.multiplexed ? reply.headers.get('x-hearth-call') : '';
    const pending = token === undefined ? undefined : this.pending.get(token);
    if (pending === undefined) {
      this.end(new ProtocolError(`the instance answered a call nobody made (X-Hearth-Call: ${JSON.stringify(token ?? null)})`));
      return;
    }
    this.pending.delete(token as string);
    if (close) this.end(new Error('the instance closed the connection'));
    pending.resolve(reply);
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] as Buffer;
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(reason);
    this.onEnd(this);
  }
}

/** The status line and headers of a reply; throws on what the protocol does not allow. */
function parseHead(text: string, bodyStart: number): Head {
  const lines = text.split('\r\n');
  const statusLine = lines[0] ?? '';
  const status = Number(statusLine.slice(9, 12));
  if (!statusLine.startsWith('HTTP/1.') || !Number.isInteger(status) || status < 100) {
    throw new ProtocolError(`the instance sent a malformed status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  }
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ProtocolError(`the instance sent a malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if (headers.has('transfer-encoding')) throw new ProtocolError('the instance sent a Transfer-Encoding reply; the protocol uses Content-Length');
  const length = Number(headers.get('content-length'));
  if (!Number.isSafeInteger(length) || length < 0) throw new ProtocolError('the instance sent a reply without a valid Content-Length');
  return { status, headers, bodyStart, length, close: headers.get('connection')?.toLowerCase() === 'close' };
}
