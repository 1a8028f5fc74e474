import { Pool as HttpPool } from 'undici';
import { FunctionNotFoundError, ProtocolError } from './errors.js';
import { RuntimeReply } from './runtime-reply.js';
import type { InstanceTransport } from './transport.js';

/**
 * The container protocol (DESIGN.md section 3): a keep-alive HTTP client on the
 * instance's Unix socket, created once per instance and reused by every call.
 */
export class SocketTransport implements InstanceTransport {
  private readonly http: HttpPool;

  constructor(socketPath: string, connections: number) {
    this.http = new HttpPool('http://hearth.instance', {
      socketPath,
      connections,
      keepAliveTimeout: 60_000,
      // Our own timer bounds a call (timeoutMs); undici's defaults would cut long calls at 300 s.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** GET /healthz answers 200 once the module is imported; a missing or refusing socket means not yet. */
  async ready(): Promise<boolean> {
    try {
      const res = await this.http.request({ path: '/healthz', method: 'GET', headersTimeout: 1000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  async send(fn: string, body: string): Promise<RuntimeReply> {
    const res = await this.http.request({
      path: `/invoke/${fn}`,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode === 404) throw new FunctionNotFoundError(`function ${fn} not found in the module`);
    if (res.statusCode !== 200) throw new ProtocolError(`the runtime answered ${res.statusCode}: ${bytes.toString('utf8', 0, 200)}`);
    return new RuntimeReply(bytes, RuntimeReply.range(res.headers['x-hearth-result'], bytes.length), res.headers['x-hearth-duration-ms']);
  }

  async close(): Promise<void> {
    await this.http.destroy();
  }
}
