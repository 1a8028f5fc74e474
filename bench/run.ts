import { runAsync } from './async.js';
import { runFiles } from './files.js';
import { runPool } from './pool.js';
import { runSmoke } from './smoke.js';

/** `npm run bench -- <name>`: runs one benchmark (default: all there are). */
const BENCHMARKS: Record<string, () => Promise<void>> = { smoke: runSmoke, pool: runPool, async: runAsync, files: runFiles };

const names = process.argv.slice(2);
for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
  const bench = BENCHMARKS[name];
  if (bench === undefined) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exit(2);
  }
  await bench();
}
