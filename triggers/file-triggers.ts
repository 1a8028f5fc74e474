import { posix } from 'node:path';
import { checkBucket, checkKey } from './object-keys.js';

/** A file trigger of a module's deploy config: an upload into `bucket` that matches runs `function`. */
export interface FileTrigger {
  readonly type: 'file';
  readonly bucket: string;
  /** Keys starting with this. Default: any. */
  readonly prefix?: string;
  /** Keys ending with this (".png"). Default: any. */
  readonly suffix?: string;
  readonly function: string;
  /** The bucket that receives what the call wrote. */
  readonly output: string;
}

/** Why the trigger cannot be used, or undefined. */
export function fileTriggerProblem(trigger: FileTrigger): string | undefined {
  try {
    checkBucket(trigger.bucket);
    checkBucket(trigger.output);
  } catch (err) {
    return (err as Error).message;
  }
  if (trigger.bucket === trigger.output) return 'the output bucket must differ from the input bucket (its outputs would trigger it again)';
  return undefined;
}

export function matches(trigger: FileTrigger, bucket: string, key: string): boolean {
  return trigger.bucket === bucket && key.startsWith(trigger.prefix ?? '') && key.endsWith(trigger.suffix ?? '');
}

/**
 * Where an output file goes: under the input key's prefix (its "folder"), at
 * its path relative to the output directory. `photos/cat.png` and an output
 * `gray/cat.png` give `photos/gray/cat.png`. Throws InvalidObjectKeyError for
 * a name that cannot be a key.
 */
export function outputKey(inputKey: string, relativePath: string): string {
  const folder = posix.dirname(inputKey);
  const key = folder === '.' ? relativePath : `${folder}/${relativePath}`;
  checkKey(key);
  return key;
}
