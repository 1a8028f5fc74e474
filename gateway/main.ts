#!/usr/bin/env node
import { loadConfig } from './config.js';
import { createDaemon } from './daemon.js';
import { createLogger } from './logger.js';

/** `npm start`: load the config, compose the daemon, listen, and close gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    // No logger yet: its level is part of the config that failed.
    process.stderr.write(`hearth: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const format = config.logFormat === 'auto' ? (process.stdout.isTTY ? 'pretty' : 'json') : config.logFormat;
  const log = createLogger(config.logLevel, format);
  let daemon;
  try {
    daemon = await createDaemon(config, log);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Known start-up failures get one clear line; anything else its stack.
    if (['ENGINE_UNAVAILABLE', 'BASE_IMAGE_MISSING', 'CONFIG_INVALID', 'PROCESS_HOST_UNUSABLE'].includes(e.code ?? '')) log.fatal(e.message);
    else log.fatal({ err }, 'hearth failed to start');
    process.exitCode = 1;
    return;
  }
  const address = await daemon.app.listen({ host: config.host, port: config.port });
  log.info(
    { address, dataDir: config.dataDir, adminTokenFile: daemon.adminTokenFile ?? '(HEARTH_ADMIN_TOKEN)' },
    'hearth is listening',
  );
  const shutdown = (signal: string): void => {
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    daemon
      .close()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`hearth: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
