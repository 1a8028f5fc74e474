import t from 'tap';
import { checkBucket, checkKey, checkPrefix } from '../../../triggers/index.js';

t.test('object keys: path-like, never a way out', async (t) => {
  for (const good of ['a', 'cats/tom.png', 'a b/c%d.txt', 'ünï/cödé', '.hidden', 'a/..b/c..', 'k'.repeat(1024)]) t.doesNotThrow(() => checkKey(good), good.slice(0, 30));
  for (const bad of ['', '/abs', 'a//b', 'a/', '.', '..', 'a/./b', 'a/../b', '../x', 'a\\b', 'nul\u0000', 'tab\there', 'k'.repeat(1025), 'é'.repeat(513)]) {
    t.throws(() => checkKey(bad), { code: 'INVALID_OBJECT_KEY' }, JSON.stringify(bad.slice(0, 30)));
  }
  t.doesNotThrow(() => checkPrefix(''));
  t.doesNotThrow(() => checkPrefix('cats/'));
  t.throws(() => checkPrefix('../'));
});

t.test('bucket names', async (t) => {
  for (const good of ['in', 'o', 'photos.out', 'a-1', 'x'.repeat(63)]) t.doesNotThrow(() => checkBucket(good), good);
  for (const bad of ['', 'In', 'a_b', '-a', 'a-', 'a..b', 'x'.repeat(64), 'a/b']) t.throws(() => checkBucket(bad), { code: 'INVALID_BUCKET_NAME' }, bad);
});
