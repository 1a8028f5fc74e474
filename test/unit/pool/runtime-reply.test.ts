import t from 'tap';
import { RuntimeReply } from '../../../pool/index.js';

const body = (text: string): Buffer => Buffer.from(text, 'utf8');

t.test('fast path: the result bytes are handed on as they are', async (t) => {
  const head = '{"ok":true,"logs":"héllo\\n","durationMs":1.5,"result":';
  const text = `${head}{"a":"ü"}}`;
  const bytes = body(text);
  const start = Buffer.byteLength(head);
  const range = RuntimeReply.range(`${start}-${bytes.length - 1}`, bytes.length);
  const reply = new RuntimeReply(bytes, range, '1.5');
  t.ok(reply.ok);
  t.equal(reply.resultJson.toString(), '{"a":"ü"}', 'byte offsets, not character offsets');
  t.same(reply.result, { a: 'ü' });
  t.equal(reply.durationMs, 1.5);
  t.equal(reply.logs, 'héllo\n', 'logs parsed on demand');
});

t.test('without the header the body is parsed', async (t) => {
  const ok = new RuntimeReply(body('{"ok":true,"result":[1,2],"logs":"","durationMs":2}'), undefined);
  t.ok(ok.ok);
  t.equal(ok.resultJson.toString(), '[1,2]');
  t.equal(ok.durationMs, 2);
  const none = new RuntimeReply(body('{"ok":true,"logs":""}'), undefined);
  t.equal(none.resultJson.toString(), 'null');
  const failed = new RuntimeReply(body('{"ok":false,"error":{"type":"ValueError","message":"x","traceback":"tb"},"logs":"l"}'), undefined);
  t.notOk(failed.ok);
  t.same(failed.error, { type: 'ValueError', message: 'x', traceback: 'tb' });
  t.equal(failed.logs, 'l');
});

t.test('a malformed or out-of-bounds range is ignored', async (t) => {
  t.equal(RuntimeReply.range(undefined, 10), undefined);
  t.equal(RuntimeReply.range('1-20', 10), undefined);
  t.equal(RuntimeReply.range('5-2', 10), undefined);
  t.equal(RuntimeReply.range('a-b', 10), undefined);
  t.equal(RuntimeReply.range(['1-2'], 10), undefined);
  t.same(RuntimeReply.range('2-5', 10), [2, 5]);
});

t.test('a success that printed nothing is known without parsing the body', async (t) => {
  // The rest of this body is not JSON: a parse would throw.
  const bytes = body('{"ok":true,"logs":"",BROKEN"result":7}');
  const reply = new RuntimeReply(bytes, [bytes.length - 2, bytes.length - 1], '0.1');
  t.equal(reply.logs, '');
  t.equal(reply.resultJson.toString(), '7');
  t.equal(reply.durationMs, 0.1);
});

t.test('a body shorter than the no-logs mark is parsed, not misread', async (t) => {
  const bytes = body('{"logs":"a"}');
  t.equal(new RuntimeReply(bytes, [0, 0], '0').logs, 'a');
});
