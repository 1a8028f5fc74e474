import t from 'tap';
import type { ExecRequest, ExecResult } from '../../../pool/driver.js';
import { callEnv, ExecTransport, execReply } from '../../../pool/exec-transport.js';

const done = (stdout: string, stderr = '', exitCode: number | null = 0, stdoutTruncated = false): ExecResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  stdoutTruncated,
});

t.test('stdout becomes the result: JSON when it parses, text otherwise, null when empty', async (t) => {
  const cases: [string, unknown][] = [
    ['{"a": 1}\n', { a: 1 }],
    ['  [1,2]  ', [1, 2]],
    ['42\n', 42],
    ['"quoted"', 'quoted'],
    ['hello\n', 'hello'],
    ['two\nlines\n\n', 'two\nlines\n'],
    ['{"broken": ', '{"broken": '],
    ['', null],
    ['\n \n', null],
  ];
  for (const [stdout, expected] of cases) {
    const reply = execReply(done(stdout), 5);
    t.ok(reply.ok, JSON.stringify(stdout));
    t.same(reply.result, expected, JSON.stringify(stdout));
    t.same(JSON.parse(reply.resultJson.toString()), expected, 'the bytes handed on are the same value');
  }
});

t.test('stderr is the logs; a non-zero exit fails the call with the status and the last stderr line', async (t) => {
  const ok = execReply(done('1', 'note\n'), 12.5);
  t.equal(ok.logs, 'note\n');
  t.equal(ok.durationMs, 12.5);
  const failed = execReply(done('partial', 'step 1\nno such file: x.png\n', 1), 3);
  t.notOk(failed.ok);
  t.same(failed.error, { type: 'NonZeroExit', message: 'the command exited with status 1: no such file: x.png', traceback: 'step 1\nno such file: x.png\n' });
  t.equal(failed.logs, 'step 1\nno such file: x.png\n');
  t.equal(execReply(done('', '', 137), 1).error?.message, 'the command exited with status 137');
  t.match(execReply(done('', '', null), 1).error?.message, /without an exit status/);
  t.match(execReply(done('x', '', 0, true), 1).error, { type: 'OutputTooLarge' });
});

t.test('the environment: function, context fields, SCAR file variables; large JSON only on stdin', async (t) => {
  const context = { module: 'm', request_id: 'r1', trigger: 'file', input_file_path: '/in/a.png', tmp_output_dir: '/out', headers: {} };
  const env = callEnv('gray', '{"key":"a.png"}', context);
  t.match(env, {
    HEARTH_FUNCTION: 'gray',
    HEARTH_MODULE: 'm',
    HEARTH_REQUEST_ID: 'r1',
    HEARTH_TRIGGER: 'file',
    INPUT_FILE_PATH: '/in/a.png',
    TMP_OUTPUT_DIR: '/out',
    HEARTH_EVENT: '{"key":"a.png"}',
  });
  t.same(JSON.parse(env.HEARTH_CONTEXT as string), context);
  const http = callEnv('f', '{}', { trigger: 'http' });
  t.notOk('INPUT_FILE_PATH' in http, 'no file variables outside file-triggered calls');
  const big = callEnv('f', JSON.stringify('x'.repeat(100_000)), { blob: 'y'.repeat(100_000) });
  t.notOk('HEARTH_EVENT' in big, 'an event over 64 KiB is left out of the environment');
  t.notOk('HEARTH_CONTEXT' in big);
});

t.test('send runs the function’s argv with the event on stdin; unknown functions are not found', async (t) => {
  const seen: ExecRequest[] = [];
  const transport = new ExecTransport(
    async (request) => {
      seen.push(request);
      return done(request.stdin.toString());
    },
    { run: ['/bin/sh', '-c', 'cat'] },
  );
  t.equal(await transport.ready(), true);
  const reply = await transport.send('run', '{"event":{"n":1},"context":{"trigger":"http"}}');
  t.same(reply.result, { n: 1 });
  t.same(seen[0]?.argv, ['/bin/sh', '-c', 'cat']);
  t.equal(seen[0]?.env.HEARTH_TRIGGER, 'http');
  await t.rejects(transport.send('other', '{"event":null,"context":{}}'), { code: 'FUNCTION_NOT_FOUND' });
  await t.rejects(transport.send('toString', '{"event":null,"context":{}}'), { code: 'FUNCTION_NOT_FOUND' }, 'inherited names are not functions');
});
