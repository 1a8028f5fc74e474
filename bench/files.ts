import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemonProcess, type DaemonProcess } from './daemon-process.js';
import { inParallel } from './load.js';
import { writeResult } from './results.js';
import { round } from './stats.js';

// `npm run bench -- files`: SCAR's experiment on this machine. 1,000 generated
// photos (1024x768 JPEG) are uploaded into a bucket whose file trigger runs an
// image function (ImageMagick from Debian packages, no Python involved) that
// writes a grayscale copy; the clock runs from the first upload until the
// 1,000th output is in the output bucket. The floor, in the same run: the same
// 1,000 conversions by a plain shell loop in one container of the same image.

const IMAGES = 1000;
const IMAGE = 'hearth/imagemagick';
const UPLOAD_CONNECTIONS = 8;
const SCRIPT = 'convert "$INPUT_FILE_PATH" -colorspace Gray "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"';
const CONFIG = { maxInstances: 4, concurrency: 1, minWarm: 0 };
const DEADLINE_MS = 15 * 60_000;

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${command} ${args.slice(0, 3).join(' ')} exited with ${code}`))));
  });
}

/** The ImageMagick image, made from Debian packages by the base-image script when it is missing. */
async function ensureImage(): Promise<void> {
  if (await run('docker', ['image', 'inspect', IMAGE]).then(() => true, () => false)) return;
  process.stdout.write(`files: building ${IMAGE} from Debian packages (scripts/build-base-image.sh, about a minute)\n`);
  const script = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'scripts', 'build-base-image.sh');
  await run('bash', [script, IMAGE], { HEARTH_BASE_PACKAGES: 'imagemagick' });
}

/** 1,000 distinct photos: one plasma seed, rolled by a different offset each. */
async function generate(dir: string): Promise<void> {
  await run('docker', [
    'run', '--rm', '--network', 'none', '-v', `${dir}:/w`, IMAGE, 'bash', '-c',
    `convert -size 1024x768 plasma:fractal -blur 0x1 /tmp/seed.png && seq 1 ${IMAGES} | xargs -P 2 -I{} convert /tmp/seed.png -roll +{}+{} -quality 85 /w/img-{}.jpg`,
  ]);
}

/** The floor: the same conversions, one after another, in one container of the same image. */
async function localLoop(inDir: string, outDir: string): Promise<number> {
  const started = performance.now();
  await run('docker', [
    'run', '--rm', '--network', 'none', '-v', `${inDir}:/in:ro`, '-v', `${outDir}:/out`, IMAGE, 'bash', '-c',
    'for f in /in/*.jpg; do convert "$f" -colorspace Gray "/out/$(basename "$f")"; done',
  ]);
  const ms = performance.now() - started;
  const made = (await readdir(outDir)).length;
  if (made !== IMAGES) throw new Error(`the local loop made ${made} of ${IMAGES} outputs`);
  return ms;
}

async function objectCount(d: DaemonProcess, bucket: string): Promise<number> {
  let total = 0;
  let cursor: string | null = null;
  do {
    const page = (await d.admin('GET', `/buckets/${bucket}/objects?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)) as { objects: unknown[]; nextCursor: string | null };
    total += page.objects.length;
    cursor = page.nextCursor;
  } while (cursor !== null);
  return total;
}

async function failedJobs(d: DaemonProcess): Promise<number> {
  const page = (await (await fetch(`${d.url}/async?module=gray&status=failed&limit=500`)).json()) as { jobs: unknown[] };
  return page.jobs.length;
}

export async function runFiles(): Promise<void> {
  await ensureImage();
  const work = await mkdtemp(join(tmpdir(), 'hearth-files-'));
  const inDir = join(work, 'in');
  const outDir = join(work, 'out');
  let d: DaemonProcess | undefined;
  try {
    await run('mkdir', ['-p', inDir, outDir]);
    // The containers' user writes here.
    await chmod(inDir, 0o777);
    await chmod(outDir, 0o777);
    await generate(inDir);
    const names = (await readdir(inDir)).sort();
    const bytes = await Promise.all(names.map((name) => readFile(join(inDir, name))));
    const totalMb = bytes.reduce((sum, b) => sum + b.length, 0) / 1e6;

    const loopMs = await localLoop(inDir, outDir);

    d = await startDaemonProcess({ HEARTH_DRIVER: 'docker' });
    const daemon = d;
    for (const bucket of ['in', 'out']) await daemon.admin('PUT', `/buckets/${bucket}`);
    await daemon.admin('PUT', '/system/modules/gray', {
      image: IMAGE,
      script: SCRIPT,
      config: { ...CONFIG, triggers: [{ type: 'file', bucket: 'in', suffix: '.jpg', function: 'handler', output: 'out' }] },
    });

    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pool = (await daemon.admin('GET', '/system/modules/gray')).pool as { byState: Record<string, number> } | null;
        const live = Object.entries(pool?.byState ?? {}).reduce((sum, [state, n]) => (state === 'dead' ? sum : sum + n), 0);
        peak = Math.max(peak, live);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const started = performance.now();
    await inParallel(names.length, UPLOAD_CONNECTIONS, async (i) => {
      const res = await fetch(`${daemon.url}/buckets/in/objects/photos/${names[i]}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${daemon.token}`, 'content-type': 'image/jpeg' },
        body: bytes[i],
      });
      if (res.status !== 201) throw new Error(`upload ${names[i]}: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    });
    const uploadedMs = performance.now() - started;
    let outputs = 0;
    let failed = 0;
    while ((outputs = await objectCount(daemon, 'out')) + (failed = await failedJobs(daemon)) < IMAGES) {
      if (performance.now() - started > DEADLINE_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const hearthMs = performance.now() - started;
    sampling = false;
    await sampler;

    const result = {
      images: IMAGES,
      imageSize: '1024x768 JPEG',
      inputMb: round(totalMb, 1),
      config: CONFIG,
      localLoopMs: round(loopMs, 0),
      localLoopPerImageMs: round(loopMs / IMAGES, 1),
      hearthMs: round(hearthMs, 0),
      uploadsDoneMs: round(uploadedMs, 0),
      hearthOverLoop: round(hearthMs / loopMs, 2),
      imagesPerSec: round(outputs / (hearthMs / 1000), 1),
      outputs,
      failedJobs: failed,
      lost: IMAGES - outputs,
      peakInstances: peak,
    };
    process.stdout.write(
      `files: ${IMAGES} images (${result.inputMb} MB) through the file trigger in ${result.hearthMs} ms (uploads done at ${result.uploadsDoneMs} ms), ` +
        `local loop ${result.localLoopMs} ms = ${result.hearthOverLoop}x (target <= 1.5); ${outputs} outputs, ${failed} failed, ${result.lost} lost; peak instances ${peak}\n`,
    );
    await writeResult('files', result);
  } finally {
    await d?.stop();
    // The containers' user owns the local loop's outputs: remove them from inside.
    await run('docker', ['run', '--rm', '--network', 'none', '-v', `${work}:/w`, '--user', '0', IMAGE, 'rm', '-rf', '/w/out', '/w/in']).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
