export { BucketStore, type ObjectIndex, type ObjectInfo } from './bucket-store.js';
export { checkKey, checkBucket, checkPrefix, BUCKET_PATTERN, MAX_KEY_BYTES } from './object-keys.js';
export { BucketNotEmptyError, BucketNotFoundError, InvalidBucketNameError, InvalidObjectKeyError, ObjectNotFoundError, ObjectTooLargeError } from './errors.js';
export { CronScheduler, cronProblem, type CronTrigger, type Fire } from './cron.js';
export { fileTriggerProblem, matches, outputKey, type FileTrigger } from './file-triggers.js';
