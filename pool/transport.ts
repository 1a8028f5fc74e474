import type { RuntimeReply } from './runtime-reply.js';

/**
 * How calls reach one instance: the runtime's Unix socket (socket-transport.ts)
 * or a process run per call inside it (exec-transport.ts, image functions).
 * Instance puts the time limit and crash handling around either.
 */
export interface InstanceTransport {
  /** True once the instance can take calls; false while it is still starting. */
  ready(): Promise<boolean>;
  /** Runs `fn` with the call's `{"event", "context"}` body. */
  send(fn: string, body: string): Promise<RuntimeReply>;
  close(): Promise<void>;
}
