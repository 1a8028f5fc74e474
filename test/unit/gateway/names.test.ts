import t from 'tap';
import { NAME_PATTERN } from '../../../gateway/module-config.js';
import { describeSchemaErrors } from '../../../gateway/validation-errors.js';

t.test('module and function names', async (t) => {
  const name = new RegExp(NAME_PATTERN);
  for (const good of ['my_module', '_private', 'A1', 'x', 'a'.repeat(64)]) t.ok(name.test(good), good);
  for (const bad of ['', '1abc', 'my-module', 'a.b', '../etc', 'a b', 'é', '__import__("os")', 'a'.repeat(65), 'x;rm']) {
    t.notOk(name.test(bad), JSON.stringify(bad));
  }
});

t.test('schema errors name the field at fault', async (t) => {
  t.equal(
    describeSchemaErrors([{ instancePath: '/config', keyword: 'additionalProperties', params: { additionalProperty: 'memry' } }], 'body'),
    'body/config has an unknown field "memry"',
  );
  t.equal(
    describeSchemaErrors([{ instancePath: '/memoryMb', keyword: 'minimum', message: 'must be >= 32', params: {} }], 'config'),
    'config/memoryMb must be >= 32',
  );
  t.equal(
    describeSchemaErrors([{ instancePath: '/paramsIn', keyword: 'enum', params: { allowedValues: ['event', 'context'] } }], 'config'),
    'config/paramsIn must be one of "event", "context"',
  );
  t.equal(
    describeSchemaErrors([{ instancePath: '/env', keyword: 'pattern', message: 'must match', params: {}, propertyName: 'HEARTH_X' }], 'config'),
    'config/env has an invalid name "HEARTH_X"',
  );
  t.equal(describeSchemaErrors([], 'body'), 'body is invalid');
});
