import { InvalidBucketNameError, InvalidObjectKeyError } from './errors.js';

export const MAX_KEY_BYTES = 1024;
// Like S3's (lower-case letters, digits, dots and dashes, starting and ending with a letter or
// digit), but from 1 character: "in" and "out" are the names people reach for.
export const BUCKET_PATTERN = '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$';
const BUCKET = new RegExp(BUCKET_PATTERN);

/**
 * Object keys are names, never paths on disk (the bytes live in files named
 * by id), but they become file names in a function's output and SCAR-style
 * paths, so they are held to path-like rules: `/`-separated segments, none
 * empty, `.` or `..`; no leading slash, backslash or control character;
 * at most 1024 bytes of UTF-8.
 */
export function checkKey(key: string): void {
  const bad = (why: string): never => {
    throw new InvalidObjectKeyError(`invalid object key ${JSON.stringify(key.slice(0, 80))}: ${why}`);
  };
  if (key === '') bad('it is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) bad(`it is longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) bad('it starts with /');
  if (/[\u0000-\u001f\u007f\\]/.test(key)) bad('it holds a control character or a backslash');
  for (const segment of key.split('/')) {
    if (segment === '') bad('it has an empty segment (// or a trailing /)');
    if (segment === '.' || segment === '..') bad('it has a . or .. segment');
  }
}

/** A prefix to list by: a key's rules, except that it may be empty or end with `/`. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  checkKey(prefix.endsWith('/') ? `${prefix}x` : prefix);
}

export function checkBucket(name: string): void {
  if (!BUCKET.test(name) || name.includes('..')) {
    throw new InvalidBucketNameError(`invalid bucket name ${JSON.stringify(name.slice(0, 80))}: 1-63 of a-z 0-9 . -, starting and ending with a letter or digit`);
  }
}
