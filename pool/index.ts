export { PoolManager } from './pool-manager.js';
export type { InvokeOutcome } from './module-pool.js';
export type { PoolSettings } from './pool-settings.js';
export type { PoolSnapshot } from './pool-snapshot.js';
export { RuntimeReply } from './runtime-reply.js';
export type { RuntimeError } from './runtime-reply.js';
export { Instance } from './instance.js';
export { SocketTransport } from './socket-transport.js';
export { ExecTransport } from './exec-transport.js';
export type { InstanceTransport } from './transport.js';
export { createSystemClock } from './clock.js';
export type { Clock } from './clock.js';
export type { InstanceState } from './instance-state.js';
export type { Driver, DriverInfo, DriverInstance, InstanceSpec, InstanceHandle, ExitInfo, ExecRequest, ExecResult } from './driver.js';
export { DockerDriver } from './drivers/docker.js';
export type { DockerDriverOptions } from './drivers/docker.js';
export {
  InvocationTimeoutError,
  InstanceCrashedError,
  InstanceStartError,
  EngineUnavailableError,
  FunctionNotFoundError,
  InvalidEventError,
  PoolClosedError,
  PoolSaturatedError,
  ProtocolError,
  QueueTimeoutError,
} from './errors.js';
export { ProcessDriver } from './drivers/process.js';
export type { ProcessDriverOptions } from './drivers/process.js';
export { detectProcessHost, ProcessHostError } from './drivers/process-host.js';
export type { ProcessHost, SandboxMode } from './drivers/process-host.js';
