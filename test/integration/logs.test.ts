import t from 'tap';
import { makeDataDir, eventually } from '../helpers/daemon.js';
import { spawnDaemon } from '../helpers/daemon-child.js';

// The daemon's own log, as users run it: JSON lines (stdout is not a terminal
// here), the request id, module and function on a call's lines; pretty on request.

const SOURCE = 'import time\n\ndef slow(event, context):\n    time.sleep(3)\n    return 1\n';

t.test('a failed call logs one JSON line with the request id, module and function', async (t) => {
  const child = await spawnDaemon(t, { HEARTH_DRIVER: 'process', HEARTH_DATA_DIR: await makeDataDir(t) }, 60_000);
  t.equal((await child.deploy('logged', SOURCE, { timeoutMs: 300 })).status, 201);
  const res = await fetch(`${child.url}/function/logged/slow`, { method: 'POST' });
  t.equal(res.status, 504);
  const requestId = res.headers.get('x-hearth-request-id');
  let line: Record<string, unknown> | undefined;
  await eventually(
    async () => {
      const lines = child
        .output()
        .split('\n')
        .filter(Boolean)
        .map((text) => JSON.parse(text) as Record<string, unknown>);
      line = lines.find((entry) => entry.reqId === requestId);
      return line !== undefined;
    },
    5000,
    'the log line',
  );
  t.match(line, { level: 40, reqId: requestId, module: 'logged', function: 'slow', code: 'INVOCATION_TIMEOUT', status: 504, service: 'hearth' });
});

t.test('HEARTH_LOG_FORMAT=pretty gives readable lines, not JSON', async (t) => {
  const child = await spawnDaemon(t, { HEARTH_DRIVER: 'process', HEARTH_DATA_DIR: await makeDataDir(t), HEARTH_LOG_FORMAT: 'pretty' }, 60_000);
  const listening = child
    .output()
    .split('\n')
    .find((line) => line.includes('hearth is listening'));
  t.match(listening, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*: hearth is listening$/);
  t.throws(() => JSON.parse(listening as string));
});
