import type { Command } from 'commander';
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
        await client.request('GET', path); // the same request without follow gives the server's error message
        return;
      }
      out.note(`following ${module}; Ctrl-C to stop`);
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined) continue;
          const call = JSON.parse(data) as CallLog;
          out.result(call, () => format(call));
        }
      }
    });
}
