import t from 'tap';
import { BuildFailedError, InvalidPackageError } from '../../../builder/index.js';
import { HandlerError, ModuleNotFoundError, UnauthorizedError, UnknownFunctionError } from '../../../gateway/errors.js';
import { toHttpError } from '../../../gateway/http-errors.js';
import {
  EngineUnavailableError,
  InstanceCrashedError,
  InstanceStartError,
  InvocationTimeoutError,
  PoolClosedError,
  PoolSaturatedError,
  QueueTimeoutError,
} from '../../../pool/index.js';

t.test('every typed error maps to its DESIGN.md status', async (t) => {
  const cases: [unknown, number, string][] = [
    [new InvalidPackageError('x'), 400, 'INVALID_PACKAGE'],
    [new BuildFailedError('x', { file: 'm.py', line: 3 }), 400, 'BUILD_FAILED'],
    [new UnauthorizedError('x'), 401, 'UNAUTHORIZED'],
    [new ModuleNotFoundError('m'), 404, 'MODULE_NOT_FOUND'],
    [new UnknownFunctionError('m', 'f', { functions: [] }), 404, 'FUNCTION_NOT_FOUND'],
    [new HandlerError({ type: 'ValueError', traceback: 'tb', logs: '' }, 'ValueError: x'), 500, 'HANDLER_ERROR'],
    [InstanceCrashedError.fromExit({ exitCode: 137, oomKilled: true, logs: '' }), 502, 'INSTANCE_CRASHED'],
    [new EngineUnavailableError('x'), 503, 'ENGINE_UNAVAILABLE'],
    [new InstanceStartError('x', { logs: '' }), 503, 'INSTANCE_START_FAILED'],
    [new PoolClosedError('m'), 503, 'SHUTTING_DOWN'],
    [new InvocationTimeoutError(100), 504, 'INVOCATION_TIMEOUT'],
    [new QueueTimeoutError(100), 504, 'INVOCATION_TIMEOUT'],
    [new PoolSaturatedError('m', 10, { retryAfterSec: 1 }), 429, 'POOL_SATURATED'],
  ];
  for (const [err, status, code] of cases) {
    const mapped = toHttpError(err);
    t.equal(mapped.status, status, code);
    t.equal(mapped.body.error.code, code);
  }
});

t.test('details are part of the body, message and code win over them', async (t) => {
  const mapped = toHttpError(new BuildFailedError('SyntaxError: bad (m.py, line 3)', { file: 'm.py', line: 3 }));
  t.same(mapped.body, { error: { file: 'm.py', line: 3, code: 'BUILD_FAILED', message: 'SyntaxError: bad (m.py, line 3)' } });
  t.match(toHttpError(InstanceCrashedError.fromExit({ exitCode: 137, oomKilled: true, logs: '' })).body.error.message, /OOM/);
});

t.test('a saturated pool says when to retry', async (t) => {
  const mapped = toHttpError(new PoolSaturatedError('m', 10, { retryAfterSec: 2 }));
  t.same(mapped.headers, { 'retry-after': '2' });
  t.same(toHttpError(new ModuleNotFoundError('m')).headers, {});
});

t.test("Fastify's own errors fold into ours", async (t) => {
  t.equal(toHttpError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'big' }).status, 413);
  t.equal(toHttpError({ code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413, message: 'big' }).body.error.code, 'BODY_TOO_LARGE');
  t.equal(toHttpError({ code: 'FST_ERR_VALIDATION', statusCode: 400, message: 'bad' }).body.error.code, 'INVALID_REQUEST');
  t.equal(toHttpError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'x' }).status, 415);
});

t.test('unknown errors: a 4xx keeps its status, anything else is a 500 that leaks nothing', async (t) => {
  t.same(toHttpError({ code: 'SOMETHING_ELSE', statusCode: 422, message: 'nope' }), {
    status: 422,
    headers: {},
    body: { error: { code: 'INVALID_REQUEST', message: 'nope' } },
  });
  const internal = toHttpError(new Error('secret path /etc/x'));
  t.equal(internal.status, 500);
  t.same(internal.body, { error: { code: 'INTERNAL', message: 'internal error' } });
  t.equal(toHttpError(undefined).status, 500);
});
