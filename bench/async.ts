import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../store/index.js';
import { startDaemonProcess, type DaemonProcess } from './daemon-process.js';
import { inParallel } from './load.js';
import { writeResult } from './results.js';
import { round } from './stats.js';

// `npm run bench -- async`: 2,000 async jobs of a no-op handler submitted over 32
// connections, against the same 2,000 calls made synchronously in the same run;
// then the same submission with a SIGKILL of the daemon half-way and a restart.

const JOBS = 2000;
const CONNECTIONS = 32;
const NOOP = 'import time\n\ndef noop(event, context):\n    time.sleep(event.get("s", 0))\n    return event.get("i")\n';
const CONFIG = { minWarm: 2, maxInstances: 4, concurrency: 8 };

function parallel(count: number, worker: (i: number) => Promise<void>): Promise<void> {
  return inParallel(count, CONNECTIONS, worker);
}

async function submitAll(d: DaemonProcess, ids: string[], seconds = 0): Promise<void> {
  await parallel(JOBS, async (i) => {
    const res = await fetch(`${d.url}/async-function/bench/noop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"i":${i},"s":${seconds}}` });
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  });
}

async function count(d: DaemonProcess, status: string): Promise<number> {
  let total = 0;
  let cursor: string | null = null;
  do {
    const res = await fetch(`${d.url}/async?module=bench&status=${status}&limit=500${cursor === null ? '' : `&cursor=${cursor}`}`);
    const page = (await res.json()) as { jobs: unknown[]; nextCursor: string | null };
    total += page.jobs.length;
    cursor = page.nextCursor;
  } while (cursor !== null);
  return total;
}

async function drained(d: DaemonProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while ((await count(d, 'queued')) + (await count(d, 'running')) > 0) {
    if (Date.now() > deadline) throw new Error('jobs did not drain in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function runAsync(): Promise<void> {
  const d = await startDaemonProcess();
  let crash: DaemonProcess | undefined;
  try {
    await d.admin('PUT', '/system/modules/bench', { source: NOOP, config: CONFIG });
    // Warm both paths once.
    await fetch(`${d.url}/function/bench/noop`, { method: 'POST' });

    let started = performance.now();
    await parallel(JOBS, async (i) => {
      const res = await fetch(`${d.url}/function/bench/noop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"i":${i}}` });
      await res.arrayBuffer();
    });
    const syncMs = performance.now() - started;

    const ids: string[] = [];
    started = performance.now();
    await submitAll(d, ids);
    const submitMs = performance.now() - started;
    await drained(d, 120_000);
    const asyncMs = performance.now() - started;

    // The crash run: a fresh data dir, all jobs accepted, SIGKILL once about half have run, restart, count.
    crash = await startDaemonProcess();
    await crash.admin('PUT', '/system/modules/bench', { source: NOOP, config: CONFIG });
    const accepted: string[] = [];
    // 10 ms per job, so the kill lands mid-run rather than after it.
    await submitAll(crash, accepted, 0.01);
    // Jobs run in submission order per module: once the middle one has ended, about half have.
    const middle = accepted.slice().sort()[JOBS / 2] as string;
    for (;;) {
      const job = (await (await fetch(`${crash.url}/async/${middle}`)).json()) as { status: string };
      if (job.status !== 'queued') break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await crash.kill();
    const killedStore = openStore(join(crash.dataDir, 'hearth.db'));
    const doneAtKill = killedStore.jobs.countByStatus().succeeded ?? 0;
    killedStore.close();
    const dataDir = crash.dataDir;
    crash = await startDaemonProcess({}, dataDir);
    await drained(crash, 120_000);
    const statuses: Record<string, number> = {};
    for (const status of ['queued', 'running', 'succeeded', 'failed', 'timeout', 'cancelled']) statuses[status] = await count(crash, status);
    const found = await Promise.all(accepted.map(async (id) => (await fetch(`${crash?.url}/async/${id}`)).status === 200));
    const result = {
      jobs: JOBS,
      connections: CONNECTIONS,
      syncMs: round(syncMs, 0),
      submitMs: round(submitMs, 0),
      submissionsPerSec: round(JOBS / (submitMs / 1000), 0),
      asyncTotalMs: round(asyncMs, 0),
      asyncOverSync: round(asyncMs / syncMs, 2),
      crash: { accepted: accepted.length, succeededAtKill: doneAtKill, lost: found.filter((ok) => !ok).length, stuck: (statuses.queued ?? 0) + (statuses.running ?? 0), statuses },
    };
    process.stdout.write(
      `async: ${result.submissionsPerSec} submissions/s (target >= 2000); async total ${result.asyncTotalMs} ms vs sync ${result.syncMs} ms = ${result.asyncOverSync}x (target <= 1.2)\n` +
        `async crash: ${result.crash.accepted} accepted, SIGKILL with ${doneAtKill} done; after the restart ${result.crash.lost} lost, ${result.crash.stuck} stuck, statuses ${JSON.stringify(statuses)}\n`,
    );
    await writeResult('async', result);
  } finally {
    await d.stop();
    if (crash !== undefined) {
      await crash.stop().catch(() => undefined);
      await rm(crash.dataDir, { recursive: true, force: true });
    }
  }
}
