import t from 'tap';
import { demux } from '../../../pool/drivers/docker.js';

t.test('Docker log frames are joined without their headers', async (t) => {
  const frame = (stream: number, text: string): Buffer => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head.writeUInt8(stream, 0);
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  t.equal(demux(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])), 'out\nerr\n');
  t.equal(demux(Buffer.alloc(0)), '');
  t.equal(demux(frame(1, 'x').subarray(0, 5)), '', 'a truncated header is ignored');
});
