import type { Driver, InstanceHandle, InstanceSpec } from './driver.js';
import { InstanceStartError } from './errors.js';
import { callHelper, pingHelper } from './exec-helper-client.js';
import { ExecTransport } from './exec-transport.js';
import { SocketTransport } from './socket-transport.js';
import type { InstanceTransport } from './transport.js';

/**
 * How calls reach a started instance. Modules answer on their runtime's
 * socket (`connections` keep-alive connections). Image functions run a
 * process per call: through the supervisor in the container when it has one
 * (a socket), else through the driver's exec.
 */
export function transportFor(driver: Driver, spec: InstanceSpec, handle: InstanceHandle, connections: number): InstanceTransport {
  const socket = handle.socketPath;
  if (spec.commands === undefined) return new SocketTransport(socket, connections);
  if (socket !== '') return new ExecTransport((request) => callHelper(socket, request), spec.commands, () => pingHelper(socket));
  if (driver.exec === undefined) throw new InstanceStartError(`the ${driver.name} driver cannot run image functions`, { logs: '' });
  const exec = driver.exec.bind(driver);
  return new ExecTransport((request) => exec(handle, request), spec.commands);
}
