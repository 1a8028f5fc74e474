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
 * One keep-alive connection to an instance's Unix socket, one request at a
 * time, speaking the subset of HTTP/1.1 the container protocol uses (DESIGN.md
 * section 3): a request is written whole in one write, and the runtime answers
 * with a Content-Length body. Anything else (chunked, extra bytes, an oversized
 * head) is a ProtocolError that ends the connection: the call fails at once
 * (500 INSTANCE_PROTOCOL_ERROR), not after waiting for an exit that will not
 * come. undici did this job at about a quarter of the gateway's warm
 * throughput (docs/benchmarks.md).
 */
export class RuntimeConnection {
  private readonly socket: Socket;
  private pending: Pending | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private head: Head | undefined;
  private ended = false;

  /** `onEnd` runs once, when the connection can no longer be used. */
  constructor(socketPath: string, private readonly onEnd: (connection: RuntimeConnection) => void) {
    this.socket = connect(socketPath);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.end(err));
    this.socket.on('close', () => this.end(new Error('the instance closed the connection')));
  }

  get usable(): boolean {
    return !this.ended;
  }

  /** Writes `request` (a whole HTTP/1.1 request) and resolves with its reply. */
  send(request: string): Promise<RuntimeHttpReply> {
    if (this.ended) return Promise.reject(new Error('the connection to the instance is closed'));
    if (this.pending !== undefined) return Promise.reject(new Error('a request is already under way on this connection'));
    return new Promise<RuntimeHttpReply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  /** Ends the connection; a request under way fails with `reason`. */
  destroy(reason = new Error('the connection to the instance was closed')): void {
    this.end(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.pending === undefined) {
      this.end(new ProtocolError('the instance sent bytes nobody asked for'));
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
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
    const { bodyStart, length } = this.head;
    if (this.size < bodyStart + length) return;
    if (this.size > bodyStart + length) {
      this.end(new ProtocolError('the instance sent more bytes than its Content-Length'));
      return;
    }
    const reply: RuntimeHttpReply = { status: this.head.status, headers: this.head.headers, body: this.joined().subarray(bodyStart) };
    const pending = this.pending;
    const close = this.head.close;
    this.pending = undefined;
    this.head = undefined;
    this.chunks = [];
    this.size = 0;
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
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(reason);
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
