import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * Compiles hearth-exec (runtimes/exec/hearth-exec.c), the supervisor of image
 * functions' containers, into a static binary under `binDir`, named by the
 * source's hash so it is built once. Resolves with its path, or undefined
 * (with the reason logged) when there is no C compiler: image functions then
 * run each call as a `docker exec`.
 */
export async function buildExecHelper(source: string, binDir: string, log: Logger, compiler = 'cc'): Promise<string | undefined> {
  const hash = createHash('sha256').update(await readFile(source)).digest('hex').slice(0, 12);
  const binary = join(binDir, `hearth-exec-${hash}`);
  if (await access(binary).then(() => true, () => false)) return binary;
  await mkdir(binDir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  // A binary built beside the source (the daemon's Docker image has one) saves the compiler.
  const prebuilt = source.replace(/\.c$/, '');
  const { code, output } = (await isNewer(prebuilt, source))
    ? await copyFile(prebuilt, partial).then(() => ({ code: 0, output: '' }))
    : await run(compiler, ['-static', '-O2', '-o', partial, source]);
  if (code !== 0) {
    await rm(partial, { force: true });
    log.warn(
      { compiler, output: output.slice(-2000) },
      'cannot build the image-function supervisor (hearth-exec): image functions will run each call as a docker exec, tens of ms slower. Install a C compiler with static libc (apt-get install gcc libc6-dev) to fix',
    );
    return undefined;
  }
  // Containers run it as their non-root user.
  await chmod(partial, 0o755);
  await rename(partial, binary);
  return binary;
}

async function isNewer(file: string, than: string): Promise<boolean> {
  const [a, b] = await Promise.all([stat(file).catch(() => undefined), stat(than)]);
  return a !== undefined && a.mtimeMs >= b.mtimeMs;
}

function run(command: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (err) => resolve({ code: null, output: err.message }));
    child.on('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString() }));
  });
}
