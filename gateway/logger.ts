import pino, { type Logger } from 'pino';

/** The daemon's one logger; parts get children of it (`log.child({ part: 'pool' })`). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'hearth' } });
}
