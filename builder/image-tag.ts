import { createHash } from 'node:crypto';
import type { ModulePackage } from './package-files.js';

/**
 * Content address of a module's image: sha256 over the module name, every file
 * (sorted by path), the requirements, the runtime's digest and the base image,
 * so an unchanged redeploy maps to an image that already exists.
 */
export function contentHash(pkg: ModulePackage, runtimeDigest: string, baseImage: string): string {
  const hash = createHash('sha256');
  const field = (value: string | Buffer): void => {
    hash.update(String(Buffer.byteLength(value))).update(':').update(value);
  };
  field(pkg.module);
  for (const name of [...pkg.files.keys()].sort()) {
    field(name);
    field(pkg.files.get(name) as Buffer);
  }
  field(pkg.requirements ?? '');
  field(runtimeDigest);
  field(baseImage);
  return hash.digest('hex').slice(0, 12);
}

/**
 * `hearth/<module>:<hash>`. Docker repository names are lowercase and may not
 * start with or repeat separators, so the name is folded; the hash (which covers
 * the exact module name) keeps folded names apart.
 */
export function imageTag(module: string, hash: string): string {
  const repo = module.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'module';
  return `hearth/${repo}:${hash}`;
}
