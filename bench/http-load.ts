import { connect, type Socket } from 'node:net';

/** Where the load goes: a TCP port or a Unix socket. */
export type LoadTarget = { readonly host: string; readonly port: number } | { readonly socketPath: string };

export interface LoadOptions {
  readonly target: LoadTarget;
  readonly path: string;
  readonly body: string;
  readonly connections: number;
  readonly durationMs: number;
  /** How long past durationMs an answer may still take before its connection is given up (default 5 s). */
  readonly hangMs?: number;
}

export interface LoadResult {
  readonly rps: number;
  readonly requests: number;
  /** Answers other than 200, and connections that failed or closed under load. */
  readonly errors: number;
  /** CPU time this process spent per request: the generator's own share of the machine. */
  readonly cpuUsPerRequest: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
// The reason phrase is optional (RFC 9112).
const OK_STATUS = /^HTTP\/1\.[01] 200(?: |$|\r)/;

/**
 * A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections,
 * each with one POST in flight, for `durationMs`. Hand-written rather than
 * autocannon (still used as a cross-check) because on a 2-core machine the
 * generator's CPU is taken from what it measures: this one spends about two
 * thirds of autocannon's per request (each run prints both; the figure is the
 * whole process's CPU over the run, which is the generator's while it runs).
 * The request is encoded once; an answer is framed by Content-Length only,
 * which every gateway and runtime answer carries, and one without it counts as
 * an error, as does any answer but 200.
 */
export async function httpLoad(options: LoadOptions): Promise<LoadResult> {
  const request = Buffer.from(
    `POST ${options.path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(options.body)}\r\n\r\n${options.body}`,
  );
  const lanes = new Set<Socket>();
  let requests = 0;
  let errors = 0;
  let stopping = false;
  const lane = (): Promise<void> =>
    new Promise((resolve) => {
      const socket: Socket = 'socketPath' in options.target ? connect(options.target.socketPath) : connect(options.target.port, options.target.host);
      socket.setNoDelay(true);
      lanes.add(socket);
      let pending: Buffer | undefined;
      let ended = false;
      const end = (): void => {
        ended = true;
        lanes.delete(socket);
        socket.destroy();
        resolve();
      };
      const fail = (): void => {
        if (ended) return;
        errors += 1;
        end();
      };
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => {
        if (ended) return;
        const buffer = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
        pending = buffer;
        const headEnd = buffer.indexOf(HEAD_END);
        if (headEnd < 0) return;
        const head = buffer.toString('latin1', 0, headEnd);
        const length = CONTENT_LENGTH.exec(head)?.[1];
        if (length === undefined) return fail();
        const answerEnd = headEnd + HEAD_END.length + Number(length);
        if (buffer.length < answerEnd) return;
        // One request is in flight: bytes past its answer answer nothing.
        if (buffer.length > answerEnd) return fail();
        pending = undefined;
        requests += 1;
        if (!OK_STATUS.test(head)) errors += 1;
        if (stopping) return end();
        socket.write(request);
      });
      socket.on('error', fail);
      // Closed with an answer owed (by the server, or by the deadline below).
      socket.on('close', fail);
    });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const timer = setTimeout(() => {
    stopping = true;
  }, options.durationMs);
  // An answer that never comes fails its connection rather than hanging the run.
  const deadline = setTimeout(() => {
    for (const socket of lanes) socket.destroy(new Error('no answer'));
  }, options.durationMs + (options.hangMs ?? 5000));
  await Promise.all(Array.from({ length: options.connections }, lane));
  clearTimeout(timer);
  clearTimeout(deadline);
  const elapsedS = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    rps: Math.round(requests / elapsedS),
    requests,
    errors,
    cpuUsPerRequest: Math.round(((used.user + used.system) / Math.max(1, requests)) * 10) / 10,
  };
}
