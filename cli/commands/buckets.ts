import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ServerError, type HearthClient } from '../client.js';
import { UsageError } from '../config.js';
import type { Context } from '../context.js';
import { table } from '../output.js';
import { integer } from './modules.js';

export interface ObjectView {
  key: string;
  size: number;
  contentType: string;
  createdAt: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.mp4': 'video/mp4',
};

/** `bucket/key/with/slashes` → its parts. */
export function splitObject(target: string, keyRequired: boolean): { bucket: string; key: string } {
  const slash = target.indexOf('/');
  const bucket = slash < 0 ? target : target.slice(0, slash);
  const key = slash < 0 ? '' : target.slice(slash + 1);
  if (bucket === '' || (keyRequired && key === '')) throw new UsageError(`expected BUCKET${keyRequired ? '/KEY' : '[/PREFIX]'}, got ${JSON.stringify(target)}`);
  return { bucket, key };
}

/** A bucket's objects under a prefix, in key order, page after page (until `limit`, when given). */
export async function listObjects(client: HearthClient, bucket: string, prefix: string, limit?: number): Promise<ObjectView[]> {
  const objects: ObjectView[] = [];
  let cursor: string | null = null;
  do {
    const query: URLSearchParams = new URLSearchParams({ prefix, limit: '1000', ...(cursor === null ? {} : { cursor }) });
    const page: { body: { objects: ObjectView[]; nextCursor: string | null } } = await client.request('GET', `/buckets/${encodeURIComponent(bucket)}/objects?${query.toString()}`);
    objects.push(...page.body.objects);
    cursor = page.body.nextCursor;
  } while (cursor !== null && (limit === undefined || objects.length < limit));
  return objects;
}

export const objectPath = (bucket: string, key: string): string => `/buckets/${encodeURIComponent(bucket)}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;

/** put, get, ls, mb (make bucket) */
export function bucketCommands(program: Command, context: () => Context): void {
  program
    .command('mb')
    .description('make a bucket')
    .argument('<bucket>')
    .action(async (bucket: string) => {
      const { client, out } = context();
      const { status } = await client.request('PUT', `/buckets/${encodeURIComponent(bucket)}`);
      out.result({ bucket, created: status === 201 }, () => `${bucket}: ${status === 201 ? 'created' : 'exists'}`);
    });

  program
    .command('put')
    .description('upload files to a bucket (each key is PREFIX + the file name; BUCKET/KEY names a single file)')
    .argument('<target>', 'BUCKET[/PREFIX/] or BUCKET/KEY')
    .argument('<files...>')
    .action(async (target: string, files: string[]) => {
      const { client, out } = context();
      const { bucket, key } = splitObject(target, false);
      const single = files.length === 1 && key !== '' && !key.endsWith('/');
      const uploaded: ObjectView[] = [];
      for (const file of files) {
        const info = await stat(file).catch(() => undefined);
        if (info === undefined || !info.isFile()) throw new UsageError(`not a file: ${file}`);
        const objectKey = single ? key : `${key}${basename(file)}`;
        const type = TYPES[(/\.[^.]+$/.exec(file)?.[0] ?? '').toLowerCase()] ?? 'application/octet-stream';
        const body = Readable.toWeb(createReadStream(file)) as unknown as BodyInit;
        const res = await client.fetch('PUT', objectPath(bucket, objectKey), { raw: { data: body, contentType: type }, headers: { 'content-length': String(info.size) }, duplex: true });
        const answer = (await res.json()) as ObjectView & { error?: { code: string; message: string } };
        if (!res.ok) throw new ServerError(res.status, answer.error?.code ?? `HTTP_${res.status}`, answer.error?.message ?? res.statusText, answer);
        uploaded.push(answer);
        out.note(`${bucket}/${objectKey}: ${answer.size} bytes`);
      }
      out.result(uploaded, () => `${uploaded.length} uploaded`);
    });

  program
    .command('get')
    .description('download an object (to FILE, or stdout)')
    .argument('<object>', 'BUCKET/KEY')
    .argument('[file]')
    .action(async (target: string, file: string | undefined) => {
      const { client } = context();
      const { bucket, key } = splitObject(target, true);
      const res = await client.fetch('GET', objectPath(bucket, key));
      if (!res.ok || res.body === null) {
        const answer = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
        throw new ServerError(res.status, answer.error?.code ?? `HTTP_${res.status}`, answer.error?.message ?? res.statusText, answer);
      }
      await pipeline(Readable.fromWeb(res.body as never), file === undefined ? process.stdout : createWriteStream(file));
    });

  program
    .command('ls-objects')
    .alias('objects')
    .description('objects of a bucket, in key order')
    .argument('<target>', 'BUCKET[/PREFIX]')
    .option('--limit <n>', 'at most this many (default: all)', integer('--limit'))
    .action((target: string, options: { limit?: number }) => printObjects(context(), target, options.limit));
}

/** `hearth objects BUCKET[/PREFIX]` and `hearth ls BUCKET[/PREFIX]`: the objects as a table. */
export async function printObjects({ client, out }: Context, target: string, limit?: number): Promise<void> {
  const { bucket, key: prefix } = splitObject(target, false);
  const objects = await listObjects(client, bucket, prefix, limit);
  const shown = limit === undefined ? objects : objects.slice(0, limit);
  out.result(shown, () => table(['KEY', 'SIZE', 'TYPE', 'CREATED'], shown.map((o) => [o.key, o.size, o.contentType, o.createdAt])));
}
