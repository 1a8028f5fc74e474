#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { HearthClient, ServerError } from './client.js';
import { invokeCommands } from './commands/invoke.js';
import { logsCommand } from './commands/logs.js';
import { moduleCommands } from './commands/modules.js';
import { upCommand } from './commands/up.js';
import { bucketCommands } from './commands/buckets.js';
import { runCommand } from './commands/run.js';
import { workflowCommands } from './commands/workflows.js';
import { loadCliConfig, UsageError } from './config.js';
import type { Context } from './context.js';
import { createOutput } from './output.js';

// Exit codes: 0 done, 1 the server refused or the call/job/run failed, 2 bad usage.
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('hearth')
    .description('Drive a hearth daemon over its HTTP API (HEARTH_URL, HEARTH_TOKEN, or ~/.config/hearth/config.json)')
    .option('--url <url>', 'the daemon (default http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default: HEARTH_TOKEN, the config file, or ./data/admin-token)')
    .option('--config <file>', 'config file {"url", "token"}')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError()
    .exitOverride();
  let context: Context | undefined;
  const make = (): Context => {
    if (context === undefined) {
      const flags = program.opts<{ url?: string; token?: string; config?: string; json?: boolean }>();
      context = { client: new HearthClient(loadCliConfig(flags)), out: createOutput(flags.json === true) };
    }
    return context;
  };
  moduleCommands(program, make);
  invokeCommands(program, make);
  logsCommand(program, make);
  workflowCommands(program, make);
  upCommand(program, make);
  bucketCommands(program, make);
  runCommand(program, make);
  for (const command of program.commands) command.exitOverride();
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander has already printed its message.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`hearth: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ServerError) {
      process.stderr.write(`hearth: ${err.message}${err.status > 0 ? ` (${err.code}, HTTP ${err.status})` : ''}\n`);
      const details = (err.body as { error?: { problems?: { at: string; message: string }[]; traceback?: string } } | undefined)?.error;
      for (const problem of details?.problems ?? []) process.stderr.write(`  ${problem.at}: ${problem.message}\n`);
      if (details?.traceback) process.stderr.write(`${details.traceback}\n`);
      return EXIT_FAILED;
    }
    const code = (err as { code?: string }).code;
    if (code === 'JOB_FAILED') {
      process.stderr.write(`hearth: ${(err as Error).message}\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(`hearth: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILED;
  }
}

process.exitCode = await main(process.argv);
