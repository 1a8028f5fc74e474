/**
 * What the builder needs from a container engine. Owned here, by its consumer;
 * the Docker driver implements it, and the daemon wires the two together.
 */
export interface ImageEngine {
  imageExists(ref: string): Promise<boolean>;
  /** The id (sha256:…) of a local image; undefined when there is none by that reference. */
  imageId(ref: string): Promise<string | undefined>;
  /** Builds `context` (a tar with a Dockerfile); resolves with the build's text output. */
  buildImage(context: Buffer, options: BuildImageOptions): Promise<BuildOutput>;
  /** Imports a root file system tarball as an image (`docker import`). */
  importImage(tarPath: string, ref: string, changes: readonly string[]): Promise<void>;
}

export interface BuildImageOptions {
  readonly tag: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Builds run without network unless they must fetch requirements. */
  readonly network: boolean;
  readonly noCache: boolean;
}

export interface BuildOutput {
  /** Everything the build printed, in order. */
  readonly log: string;
  /** The engine's error message when the build failed. */
  readonly error?: string;
}
