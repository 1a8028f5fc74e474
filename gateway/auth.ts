import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from './errors.js';

/**
 * An onRequest hook that requires `Authorization: Bearer <token>`. Tokens are
 * compared as sha256 digests in constant time, so neither their length nor
 * their content leaks through timing.
 */
export function requireBearer(token: string, realm: string): (request: FastifyRequest) => Promise<void> {
  const expected = digest(token);
  return async (request) => {
    const header = request.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new UnauthorizedError(`${realm} routes need Authorization: Bearer <token>`);
    }
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
