import { FunctionNotFoundError, InvalidEventError, ProtocolError } from './errors.js';
import { RuntimeConnection, type RuntimeHttpReply } from './runtime-connection.js';
import { RuntimeReply, type RuntimeError } from './runtime-reply.js';
import type { InstanceTransport } from './transport.js';

const HEALTH_TIMEOUT_MS = 1000;
// Names are checked at the edge; this keeps a bad one from ever reaching a request line.
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: hearth\r\n';

/**
 * The container protocol (DESIGN.md section 3) on the instance's Unix socket.
 * A runtime whose health check says `X-Hearth-Multiplex: 1` (runtime 4 on)
 * gets the calls made while others are in flight on one multiplexed
 * connection, reopened if it ends; a call alone in flight takes a plain
 * connection (soloConnection). An older runtime (an image built before)
 * gets up to `connections` keep-alive connections, one call at a time each
 * (the pool sends at most `concurrency` calls at once), opened as calls need
 * them and reused by every later call; a request that finds them all busy
 * waits for the next free one.
 */
export class SocketTransport implements InstanceTransport {
  private readonly idle: RuntimeConnection[] = [];
  private readonly waiting: { resolve(connection: RuntimeConnection): void; reject(err: Error): void }[] = [];
  private readonly all = new Set<RuntimeConnection>();
  private closed = false;
  private multiplexed = false;
  private shared: RuntimeConnection | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly connections: number,
  ) {}

  /** GET /healthz answers 200 once the module is imported; a missing or refusing socket means not yet. */
  async ready(): Promise<boolean> {
    let connection: RuntimeConnection | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      connection = await this.acquire();
      const held = connection;
      timer = setTimeout(() => held.destroy(new Error('the health check timed out')), HEALTH_TIMEOUT_MS);
      const reply = await connection.send(HEALTHZ);
      if (reply.status !== 200) return false;
      this.multiplexed = reply.headers.get('x-hearth-multiplex') === '1';
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      if (connection !== undefined) this.release(connection);
    }
  }

  async send(fn: string, body: string): Promise<RuntimeReply> {
    if (!SAFE_NAME.test(fn)) throw new FunctionNotFoundError(`function ${JSON.stringify(fn)} is not a valid name`);
    const head = `POST /invoke/${fn} HTTP/1.1\r\nHost: hearth\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    let reply: RuntimeHttpReply;
    const solo = this.multiplexed ? this.soloConnection() : undefined;
    if (this.multiplexed && solo === undefined) {
      reply = await this.sharedConnection().send(head, body);
    } else {
      const connection = solo ?? (await this.acquire());
      try {
        reply = await connection.send(head, body);
      } finally {
        this.release(connection);
      }
    }
    const bytes = reply.body;
    if (reply.status === 404) throw new FunctionNotFoundError(`function ${fn} not found in the module`);
    if (reply.status !== 200) throw refusal(reply.status, bytes);
    return new RuntimeReply(bytes, RuntimeReply.range(reply.headers.get('x-hearth-result'), bytes.length), reply.headers.get('x-hearth-duration-ms'));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('the instance is closed'));
    this.idle.length = 0;
    // Calls under way on a live instance fail now rather than hang (the pool closes an instance once it is done with it).
    for (const connection of [...this.all]) connection.destroy();
  }

  /**
   * A call alone in flight takes the plain connection: the runtime answers it
   * on the connection's own thread, without the hand-over to a worker thread
   * that costs a multiplexed call ~70 us. Undefined when other calls are under
   * way (they batch) or the plain connection is busy.
   */
  private soloConnection(): RuntimeConnection | undefined {
    if (this.closed || (this.shared !== undefined && this.shared.inFlight > 0)) return undefined;
    const idle = this.idle.pop();
    if (idle !== undefined || this.all.size > (this.shared === undefined ? 0 : 1)) return idle;
    return this.connect();
  }

  private sharedConnection(): RuntimeConnection {
    if (this.closed) throw new Error('the instance is closed');
    this.shared ??= this.connect(true);
    return this.shared;
  }

  private acquire(): Promise<RuntimeConnection> {
    if (this.closed) return Promise.reject(new Error('the instance is closed'));
    const idle = this.idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.all.size < this.connections) return Promise.resolve(this.connect());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** A connection back from a request: to the oldest waiting request, else kept for the next. */
  private release(connection: RuntimeConnection): void {
    if (!connection.usable) return;
    if (this.closed) {
      connection.destroy();
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter !== undefined) waiter.resolve(connection);
    else this.idle.push(connection);
  }

  /** A connection that ended (by either side) no longer counts, and its place may be taken. */
  private forget(connection: RuntimeConnection): void {
    this.all.delete(connection);
    if (connection === this.shared) {
      this.shared = undefined;
      return;
    }
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    // close() has already turned every waiter away, so one still here may have a new connection.
    this.waiting.shift()?.resolve(this.connect());
  }

  private connect(multiplexed = false): RuntimeConnection {
    const connection = new RuntimeConnection(this.socketPath, (gone) => this.forget(gone), multiplexed);
    this.all.add(connection);
    return connection;
  }
}

/** The error for a runtime's answer other than 200 or 404: the event's fault when the runtime says so, else a protocol error. */
function refusal(status: number, body: Buffer): Error {
  if (status === 400) {
    // The runtime's error body has the shape of a call's reply: RuntimeReply reads it.
    let error: RuntimeError | undefined;
    try {
      error = new RuntimeReply(body, undefined).error;
    } catch {
      error = undefined; // not JSON: not the runtime's refusal of an event
    }
    if (error?.type === 'InvalidEvent') return new InvalidEventError(error.message);
  }
  return new ProtocolError(`the runtime answered ${status}: ${body.toString('utf8', 0, 200)}`);
}
