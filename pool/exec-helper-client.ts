import { connect } from 'node:net';
import type { ExecRequest, ExecResult } from './driver.js';

/**
 * The client of hearth-exec (runtimes/exec/hearth-exec.c), the supervisor
 * inside image-function containers: one connection per call, a request of
 * length-prefixed fields (little-endian uint32), the process's status and
 * output back when it has ended.
 */
export function callHelper(socketPath: string, request: ExecRequest): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(socketPath);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(decodeReply(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.end(encodeRequest(request));
  });
}

/** True when the supervisor answers (an empty argv is a ping). */
export async function pingHelper(socketPath: string): Promise<boolean> {
  try {
    const reply = await callHelper(socketPath, { argv: [], stdin: Buffer.alloc(0), env: {}, maxOutputBytes: 0 });
    return reply.exitCode === 0;
  } catch {
    return false;
  }
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(value);
  return b;
}

function field(value: string | Buffer): Buffer[] {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return [u32(bytes.length), bytes];
}

export function encodeRequest(request: ExecRequest): Buffer {
  const env = Object.entries(request.env).map(([key, value]) => `${key}=${value}`);
  return Buffer.concat([
    u32(request.argv.length),
    ...request.argv.flatMap((arg) => field(arg)),
    u32(env.length),
    ...env.flatMap((entry) => field(entry)),
    ...field(request.stdin),
    u32(request.maxOutputBytes),
  ]);
}

export function decodeReply(bytes: Buffer): ExecResult {
  let at = 0;
  const next = (): number => {
    if (at + 4 > bytes.length) throw new Error('the supervisor closed the connection before it answered (the instance may have died)');
    const value = bytes.readUInt32LE(at);
    at += 4;
    return value;
  };
  const take = (): Buffer => {
    const size = next();
    if (at + size > bytes.length) throw new Error('the supervisor’s answer was cut short');
    const part = bytes.subarray(at, at + size);
    at += size;
    return part;
  };
  const exitCode = next();
  const flags = next();
  const stdout = take();
  const stderr = take();
  return { exitCode, stdout, stderr, stdoutTruncated: (flags & 1) === 1 };
}
