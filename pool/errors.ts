import type { ExitInfo } from './driver.js';

/** The call ran longer than the module's timeoutMs; its instance was killed. */
export class InvocationTimeoutError extends Error {
  readonly code = 'INVOCATION_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`the call did not finish within ${timeoutMs} ms; its instance was killed and will be replaced`);
  }
}

/** The instance died (exit, kill, OOM) while serving the call. */
export class InstanceCrashedError extends Error {
  readonly code = 'INSTANCE_CRASHED';
  constructor(
    message: string,
    readonly details: ExitInfo,
  ) {
    super(message);
  }

  static fromExit(exit: ExitInfo): InstanceCrashedError {
    return new InstanceCrashedError(`the instance ${describeExit(exit)} during the call`, exit);
  }
}

/** "exited with code 3", "was killed by SIGKILL", "was killed for exceeding its memory limit (OOM, …)". */
export function describeExit(exit: ExitInfo): string {
  if (exit.oomKilled) return `was killed for exceeding its memory limit (OOM, exit code ${exit.exitCode ?? 'unknown'})`;
  if (exit.signal !== undefined && exit.signal !== null) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode ?? 'unknown'}`;
}

/** An instance failed to start or to answer its health check; it is never reused. */
export class InstanceStartError extends Error {
  readonly code = 'INSTANCE_START_FAILED';
  constructor(
    message: string,
    readonly details: { readonly logs: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No container engine answers. */
export class EngineUnavailableError extends Error {
  readonly code = 'ENGINE_UNAVAILABLE';
}

/** The module defines no such function (the runtime said so). */
export class FunctionNotFoundError extends Error {
  readonly code = 'FUNCTION_NOT_FOUND';
}

/** The runtime could not decode the call's event, valid JSON though it is (nested deeper than Python's json goes). */
export class InvalidEventError extends Error {
  readonly code = 'INVALID_EVENT';
}

/** The pool is closing: no new calls. */
export class PoolClosedError extends Error {
  readonly code = 'SHUTTING_DOWN';
  constructor(module: string) {
    super(`the pool of ${module} is shutting down`);
  }
}

/** The runtime answered something that is not the container protocol. */
export class ProtocolError extends Error {
  readonly code = 'INSTANCE_PROTOCOL_ERROR';
}

/** The module's queue is full: the caller should retry later. */
export class PoolSaturatedError extends Error {
  readonly code = 'POOL_SATURATED';
  constructor(
    module: string,
    maxQueue: number,
    readonly details: { readonly retryAfterSec: number },
  ) {
    super(`module ${module} is saturated: ${maxQueue} calls already wait; retry later`);
  }
}

/** The call waited for a free instance longer than its time limit. */
export class QueueTimeoutError extends Error {
  readonly code = 'INVOCATION_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`no instance became free within ${timeoutMs} ms`);
  }
}
