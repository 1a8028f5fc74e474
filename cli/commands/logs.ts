import type { Command } from 'commander';
import { ServerError } from '../client.js';
import type { Context } from '../context.js';
import { integer } from './modules.js';

interface CallLog {
  id: string;
  function: string;
  trigger: string;
  status: string;
  endedAt: string;
  durationMs: number | null;
  logs: string;
}

function format(call: CallLog): string {
  const head = `--- ${call.endedAt} ${call.function} (${call.trigger}) ${call.status}${call.durationMs === null ? '' : ` ${call.durationMs} ms`} ${call.id}`;
  return call.logs === '' ? head : `${head}\n${call.logs.replace(/\n$/, '')}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Splits a Server-Sent Events body into its blocks (separated by a blank line). */
async function readEvents(body: AsyncIterable<Uint8Array>, onBlock: (block: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      onBlock(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
  }
}

/** logs MODULE [-f] */
export function logsCommand(program: Command, context: () => Context): void {
  program
    .command('logs')
    .description("each call's captured output; -f follows new calls as they end")
    .argument('<module>')
    .option('-f, --follow', 'stream new calls until interrupted')
    .option('--limit <n>', 'recent calls to show (1-500, default 20)', integer('--limit'))
    .action(async (module: string, options: { follow?: boolean; limit?: number }) => {
      const { client, out } = context();
      const path = `/system/modules/${encodeURIComponent(module)}/logs`;
      if (options.follow !== true) {
        const { body } = await client.request<{ logs: CallLog[] }>('GET', `${path}${options.limit === undefined ? '' : `?limit=${options.limit}`}`);
        // Oldest first, as a log reads.
        const calls = [...body.logs].reverse();
        return out.result(calls, () => calls.map(format).join('\n') || '(no calls yet)');
      }
      const res = await client.fetch('GET', `${path}?follow=1`);
      if (!res.ok || res.body === null) {
        const text = await res.text();
        const error = (safeJson(text) as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new ServerError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? text, undefined);
      }
      out.note(`following ${module}; Ctrl-C to stop`);
      try {
        await readEvents(res.body as unknown as AsyncIterable<Uint8Array>, (block) => {
          if (/^event: bye$/m.test(block)) return out.note('the daemon is shutting down; stream closed');
          const data = /^event: call$/m.test(block) ? /^data: (.*)$/m.exec(block)?.[1] : undefined;
          if (data === undefined) return;
          const call = JSON.parse(data) as CallLog;
          out.result(call, () => format(call));
        });
      } catch (err) {
        throw new ServerError(0, 'STREAM_ENDED', `the log stream ended: ${(err as Error).message}`, undefined);
      }
    });
}
