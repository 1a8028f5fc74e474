import tar from 'tar-stream';
import { RUNTIME_ENTRY } from '../runtimes/index.js';
import type { ModulePackage } from './package-files.js';

export interface ContextOptions {
  readonly baseImage: string;
  /** The runtime's files by name, its entry point among them. */
  readonly runtimeFiles: ReadonlyMap<string, Buffer>;
  readonly labels: Readonly<Record<string, string>>;
}

const CODE_DIR = '/opt/hearth/code';
const RUNTIME_DIR = '/opt/hearth';
const RUNTIME = `${RUNTIME_DIR}/${RUNTIME_ENTRY}`;
// Build-time import runs as nobody: the module's top-level code never runs as root.
const CHECK_USER = '65534:65534';

/** Requirements install offline from wheels bundled under wheels/; otherwise from the package index. */
export function hasBundledWheels(pkg: ModulePackage): boolean {
  return [...pkg.files.keys()].some((name) => name.startsWith('wheels/') && name.endsWith('.whl'));
}

/** Does building this package need the network (requirements to fetch from the index)? */
export function buildNeedsNetwork(pkg: ModulePackage): boolean {
  return pkg.requirements !== undefined && !hasBundledWheels(pkg);
}

/** The Dockerfile of a module image. Pure: the same package gives the same text. */
export function renderDockerfile(pkg: ModulePackage, options: ContextOptions): string {
  const lines = [
    `FROM ${options.baseImage}`,
    // The runtime's files, side by side: the entry point imports the others from its own folder.
    `COPY runtime/ ${RUNTIME_DIR}/`,
    `COPY code/ ${CODE_DIR}/`,
  ];
  if (pkg.requirements !== undefined) {
    const source = hasBundledWheels(pkg) ? `--no-index --find-links ${CODE_DIR}/wheels` : '--retries 1 --timeout 15';
    lines.push(
      'COPY requirements.txt /opt/hearth/requirements.txt',
      `RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input --break-system-packages ${source} --target /opt/hearth/deps -r /opt/hearth/requirements.txt`,
    );
  }
  lines.push(
    `RUN python3 ${RUNTIME} compile --code ${CODE_DIR}`,
    `USER ${CHECK_USER}`,
    // HEARTH_PHASE=build lets a module skip start-only set-up (secrets, connections) in this check.
    `RUN HEARTH_PHASE=build python3 ${RUNTIME} check --code ${CODE_DIR} --module ${pkg.module}`,
    'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp',
    `LABEL ${Object.entries(options.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`,
    `CMD ["python3", "${RUNTIME}", "serve", "--code", "${CODE_DIR}", "--module", "${pkg.module}", "--socket", "/run/hearth/fn.sock"]`,
  );
  return `${lines.join('\n')}\n`;
}

/** The build context: a tar holding the Dockerfile, the runtime, the code and the requirements. */
export async function buildContext(pkg: ModulePackage, options: ContextOptions): Promise<Buffer> {
  const pack = tar.pack();
  // A fixed mtime keeps the context byte-identical for identical inputs.
  const mtime = new Date(0);
  const add = (name: string, data: Buffer | string): void => {
    pack.entry({ name, mode: 0o644, mtime, uid: 0, gid: 0 }, data);
  };
  add('Dockerfile', renderDockerfile(pkg, options));
  for (const [name, source] of options.runtimeFiles) add(`runtime/${name}`, source);
  for (const name of [...pkg.files.keys()].sort()) add(`code/${name}`, pkg.files.get(name) as Buffer);
  if (pkg.requirements !== undefined) add('requirements.txt', pkg.requirements);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
