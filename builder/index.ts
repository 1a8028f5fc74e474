export { Builder, serializePackage, deserializePackage } from './build-image.js';
export type { BuildPlan, BuiltImage, BuilderDeps } from './build-image.js';
export { ensureBaseImage } from './base-image.js';
export type { BaseImageOptions } from './base-image.js';
export { readPackage } from './package-files.js';
export type { ModulePackage, PackageUpload } from './package-files.js';
export type { ImageEngine, BuildImageOptions, BuildOutput } from './image-engine.js';
export { InvalidPackageError, BuildFailedError, BuildError, BaseImageError } from './errors.js';
