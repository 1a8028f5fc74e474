import t from 'tap';
import { commandsOf, imageFunctionsVersion, serializeImageFunctions, storedImageFunctions } from '../../../builder/image-functions.js';
import { serializePackage } from '../../../builder/build-image.js';

const spec = { image: 'tools:1', functions: { gray: { script: 'convert "$INPUT_FILE_PATH" x' }, py: { command: ['python3', '-c', 'print(1)'] } } };

t.test('a script runs under /bin/sh -c; a command runs as given', async (t) => {
  t.same(commandsOf(spec), { gray: ['/bin/sh', '-c', 'convert "$INPUT_FILE_PATH" x'], py: ['python3', '-c', 'print(1)'] });
});

t.test('the version follows the image id and the commands, not the order they were given in', async (t) => {
  const v = imageFunctionsVersion('sha256:aaa', spec);
  t.match(v, /^[0-9a-f]{12}$/);
  t.equal(imageFunctionsVersion('sha256:aaa', { image: 'other-name', functions: { py: spec.functions.py, gray: spec.functions.gray } }), v);
  t.not(imageFunctionsVersion('sha256:bbb', spec), v, 'a rebuilt image is a new version');
  t.not(imageFunctionsVersion('sha256:aaa', { ...spec, functions: { ...spec.functions, gray: { script: 'other' } } }), v);
  t.not(imageFunctionsVersion('sha256:aaa', { ...spec, functions: { gray2: spec.functions.gray, py: spec.functions.py } }), v);
});

t.test('stored specs round-trip; a Python package is not one', async (t) => {
  t.same(storedImageFunctions(serializeImageFunctions(spec)), spec);
  t.equal(storedImageFunctions(serializePackage({ module: 'm', files: new Map([['m.py', Buffer.from('x=1')]]), requirements: undefined })), undefined);
});
