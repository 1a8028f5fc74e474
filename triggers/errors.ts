/** Typed errors of the object store; gateway/http-errors.ts maps their codes. */

export class InvalidObjectKeyError extends Error {
  readonly code = 'INVALID_OBJECT_KEY';
}

export class InvalidBucketNameError extends Error {
  readonly code = 'INVALID_BUCKET_NAME';
}

export class BucketNotFoundError extends Error {
  readonly code = 'BUCKET_NOT_FOUND';
  constructor(bucket: string) {
    super(`no bucket named ${bucket}`);
  }
}

export class BucketNotEmptyError extends Error {
  readonly code = 'BUCKET_NOT_EMPTY';
  constructor(bucket: string) {
    super(`bucket ${bucket} still holds objects: delete them first`);
  }
}

export class ObjectNotFoundError extends Error {
  readonly code = 'OBJECT_NOT_FOUND';
  constructor(bucket: string, key: string) {
    super(`no object ${JSON.stringify(key)} in bucket ${bucket}`);
  }
}

export class ObjectTooLargeError extends Error {
  readonly code = 'OBJECT_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(`the object is larger than the limit of ${maxBytes} bytes (HEARTH_MAX_OBJECT_BYTES)`);
  }
}
