import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { BaseImageError } from './errors.js';
import type { ImageEngine } from './image-engine.js';

export interface BaseImageOptions {
  readonly image: string;
  /** Build it from Debian packages when missing (else fail with instructions). */
  readonly build: boolean;
  /** scripts/build-base-image.sh */
  readonly script: string;
}

/** Makes sure the base image of function images exists, building it from Debian packages if asked to. */
export async function ensureBaseImage(engine: ImageEngine, options: BaseImageOptions, log: Logger): Promise<void> {
  if (await engine.imageExists(options.image)) return;
  if (!options.build) {
    throw new BaseImageError(`base image ${options.image} is missing: run scripts/build-base-image.sh ${options.image}`);
  }
  log.info({ image: options.image }, 'base image missing: building it from Debian packages (mmdebstrap, ~30 s)');
  const dir = await mkdtemp(join(tmpdir(), 'hearth-base-'));
  const tarPath = join(dir, 'rootfs.tar');
  try {
    await runScript(options.script, ['--tar', tarPath], log);
    log.info({ image: options.image }, 'importing base image');
    await engine.importImage(tarPath, options.image, ['ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp']);
    log.info({ image: options.image }, 'base image ready');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runScript(script: string, args: string[], log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { cwd: dirname(script), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      output = (output + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim() !== '') log.info({ script: 'build-base-image' }, line.trim());
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new BaseImageError(`cannot run ${script}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new BaseImageError(`${script} failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}
