import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import t from 'tap';
import { buildExecHelper } from '../../../builder/exec-helper.js';
import type { ExecRequest } from '../../../pool/driver.js';
import { callHelper, decodeReply, pingHelper } from '../../../pool/exec-helper-client.js';
import { findExecHelperSource } from '../../../runtimes/index.js';

// hearth-exec, the supervisor in image functions' containers, is a plain static
// binary: here it runs on this machine, on a socket in a temp folder.

const HAS_CC = spawnSync('cc', ['--version']).status === 0;

const call = (argv: string[], stdin = '', env: Record<string, string> = {}, maxOutputBytes = 1024 * 1024): ExecRequest => ({
  argv,
  stdin: Buffer.from(stdin),
  env,
  maxOutputBytes,
});

t.test('hearth-exec', { skip: HAS_CC ? false : 'no C compiler (cc) to build hearth-exec with' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-exec-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const binary = await buildExecHelper(findExecHelperSource(), dir, pino({ level: 'silent' }));
  if (binary === undefined) throw new Error('cc is there but hearth-exec did not build');
  t.equal(await buildExecHelper(findExecHelperSource(), dir, pino({ level: 'silent' })), binary, 'built once: the second call finds it');
  const socket = join(dir, 'fn.sock');
  const child: ChildProcess = spawn(binary, [socket], { stdio: 'inherit' });
  t.teardown(() => {
    child.kill();
  });
  while (!(await pingHelper(socket))) await delay(5);

  t.test('stdin, the extra environment (ahead of the inherited one), stdout and stderr', async (t) => {
    const reply = await callHelper(socket, call(['/bin/sh', '-c', 'read x; echo "got $x and $EXTRA"; echo note >&2'], 'hello\n', { EXTRA: 'yes', PATH: '/usr/bin:/bin' }));
    t.same({ ...reply, stdout: reply.stdout.toString(), stderr: reply.stderr.toString() }, { exitCode: 0, stdout: 'got hello and yes\n', stderr: 'note\n', stdoutTruncated: false });
  });

  t.test('exit codes and signals', async (t) => {
    t.equal((await callHelper(socket, call(['/bin/sh', '-c', 'exit 3']))).exitCode, 3);
    t.equal((await callHelper(socket, call(['/bin/sh', '-c', 'kill -9 $$']))).exitCode, 137, '128 + SIGKILL');
    const missing = await callHelper(socket, call(['/no/such/program']));
    t.equal(missing.exitCode, 127);
    t.match(missing.stderr.toString(), /cannot run \/no\/such\/program/);
  });

  t.test('output over the limit: stdout keeps its head and says so, stderr keeps its tail', async (t) => {
    const reply = await callHelper(socket, call(['/bin/sh', '-c', 'seq 1 100000; seq 1 100000 >&2'], '', {}, 1000));
    t.equal(reply.stdoutTruncated, true);
    t.equal(reply.stdout.length, 1000);
    t.ok(reply.stdout.toString().startsWith('1\n2\n3\n'));
    t.equal(reply.stderr.length, 1000);
    t.ok(reply.stderr.toString().endsWith('99999\n100000\n'));
  });

  t.test('a large stdin the command never reads does not hang the call', async (t) => {
    const reply = await callHelper(socket, call(['/bin/sh', '-c', 'echo done'], 'x'.repeat(4 * 1024 * 1024)));
    t.equal(reply.exitCode, 0);
    t.equal(reply.stdout.toString(), 'done\n');
  });

  t.test('a background process holding stdout does not hold the call: it ends with the command, and is killed', async (t) => {
    const marker = join(dir, 'left-behind');
    const reply = await callHelper(socket, call(['/bin/sh', '-c', `(sleep 2; touch ${marker}) & echo hi`]));
    t.equal(reply.exitCode, 0);
    t.equal(reply.stdout.toString(), 'hi\n');
    await delay(2500);
    t.notOk(existsSync(marker), 'the leftover process was killed with the call');
  });

  t.test('calls run side by side', async (t) => {
    // Each call waits (up to 10 s) until all eight have started: calls run one at a time could not.
    const barrier = join(dir, 'barrier');
    const script = `mkdir -p ${barrier}; touch ${barrier}/$1; for n in $(seq 100); do [ $(ls ${barrier} | wc -l) -ge 8 ] && echo "$1 met the others" && exit 0; sleep 0.1; done; echo alone; exit 1`;
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => callHelper(socket, call(['/bin/sh', '-c', script, 'sh', String(i)]))));
    t.same(replies.map((r) => r.stdout.toString()), Array.from({ length: 8 }, (_, i) => `${i} met the others\n`));
  });
});

t.test('a reply cut short is an error, not a result', async (t) => {
  t.throws(() => decodeReply(Buffer.from([0, 0, 0])), /closed the connection before it answered/);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(50, 8);
  t.throws(() => decodeReply(header), /cut short/);
});
