import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

/**
 * The daemon's one logger; parts get children of it (`log.child({ part: 'pool' })`).
 * JSON lines for machines; `pretty` (a terminal) formats them in this thread,
 * synchronously, so the last lines before an exit are never lost.
 */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'hearth' } };
  if (format === 'json') return pino(options);
  return pino(options, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
}
