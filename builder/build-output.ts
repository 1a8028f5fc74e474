import { BuildError, BuildFailedError } from './errors.js';

/**
 * Reading what a build printed. The runtime reports its result as one line
 * `HEARTH_RESULT {json}` or `HEARTH_ERROR {json}`; pip's failures are recognised
 * by their text. Shared by the Docker and the local build.
 */
const RESULT = 'HEARTH_RESULT ';
const ERROR = 'HEARTH_ERROR ';

export function findLine(log: string, prefix: string): string | undefined {
  return log.split('\n').find((line) => line.startsWith(prefix));
}

function parseLine(log: string, prefix: string): unknown {
  const line = findLine(log, prefix);
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line.slice(prefix.length));
  } catch {
    return undefined;
  }
}

export function hasResult(log: string): boolean {
  return findLine(log, RESULT) !== undefined;
}

/** The functions the import check found; BuildError when it printed none. */
export function checkResult(log: string): string[] {
  const result = parseLine(log, RESULT) as { functions?: string[] } | undefined;
  if (!Array.isArray(result?.functions)) {
    throw new BuildError('the build finished but its import check printed no result', { output: tail(log) });
  }
  return result.functions;
}

export function tail(log: string, lines = 30): string {
  return log.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The compile or import error the runtime located in the user's code, if it printed one. */
export function codeFailure(log: string): BuildFailedError | undefined {
  const located = parseLine(log, ERROR) as
    | { file: string | null; line: number | null; message: string; traceback: string }
    | undefined;
  if (located === undefined) return undefined;
  const where = located.file ? ` (${located.file}${located.line ? `, line ${located.line}` : ''})` : '';
  return new BuildFailedError(`${located.message}${where}`, {
    file: located.file,
    line: located.line,
    traceback: located.traceback,
  });
}

// What pip prints when it cannot reach the index (DNS, refused, no route, proxy).
const UNREACHABLE = /NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|ProxyError|ConnectTimeoutError/;

/** pip failed: the user's requirements (or an index we cannot reach) are at fault. */
export function requirementsFailure(log: string, reason: string): BuildFailedError {
  const message = UNREACHABLE.test(log)
    ? 'installing requirements.txt failed: the package index is unreachable from this host; bundle the wheels under wheels/ in the upload to install offline'
    : `installing requirements.txt failed: ${reason}`;
  return new BuildFailedError(message, { file: 'requirements.txt', line: null, step: 'requirements', output: tail(log) });
}
