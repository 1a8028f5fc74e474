/** The upload is not a usable module package (wrong format, missing entry file, unsafe paths). */
export class InvalidPackageError extends Error {
  readonly code = 'INVALID_PACKAGE';
}

/** Where in the user's code a build failed. */
export interface CodeLocation {
  readonly file: string | null;
  readonly line: number | null;
  readonly traceback?: string;
}

/** The module's own code (or its requirements) failed to compile, import or install: the user's fault. */
export class BuildFailedError extends Error {
  readonly code = 'BUILD_FAILED';
  constructor(
    message: string,
    readonly details: CodeLocation & { readonly step?: string; readonly output?: string },
  ) {
    super(message);
  }
}

/** The image build failed for a reason that is not the module's code: a platform fault. */
export class BuildError extends Error {
  readonly code = 'BUILD_ERROR';
  constructor(
    message: string,
    readonly details: { readonly output: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The base image is missing and could not be made. */
export class BaseImageError extends Error {
  readonly code = 'BASE_IMAGE_MISSING';
}
