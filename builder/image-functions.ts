import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

/** One function of an image module: a shell script, or a command (argv) run as it is. */
export type ImageCommand = { readonly script: string } | { readonly command: readonly string[] };

/**
 * A module made of a container image the user already has (SCAR's model):
 * no Python, no build; each function is a command run inside a warm container
 * of the image.
 */
export interface ImageFunctions {
  /** A local image reference: hearth reaches no registry, so it must be built or loaded already. */
  readonly image: string;
  readonly functions: Readonly<Record<string, ImageCommand>>;
}

/** The argv each function runs per call: a script goes to /bin/sh -c. */
export function commandsOf(spec: ImageFunctions): Record<string, readonly string[]> {
  return Object.fromEntries(
    Object.entries(spec.functions).map(([name, fn]) => [name, 'script' in fn ? ['/bin/sh', '-c', fn.script] : [...fn.command]]),
  );
}

/**
 * Content address of an image module: the image's id (not its name, so a
 * rebuilt image under the same tag is a new version) and every function's
 * command, in name order.
 */
export function imageFunctionsVersion(imageId: string, spec: ImageFunctions): string {
  const commands = commandsOf(spec);
  const canonical = JSON.stringify([imageId, Object.keys(commands).sort().map((name) => [name, commands[name]])]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** Kept in the module's package column, beside the gzip'd Python packages (serializePackage). */
export function serializeImageFunctions(spec: ImageFunctions): Buffer {
  return gzipSync(JSON.stringify({ kind: 'image', image: spec.image, functions: spec.functions }));
}

/** The stored spec of an image module; undefined for a Python package. */
export function storedImageFunctions(blob: Buffer): ImageFunctions | undefined {
  const raw = JSON.parse(gunzipSync(blob).toString('utf8')) as { kind?: string; image?: string; functions?: ImageFunctions['functions'] };
  if (raw.kind !== 'image' || raw.image === undefined || raw.functions === undefined) return undefined;
  return { image: raw.image, functions: raw.functions };
}
