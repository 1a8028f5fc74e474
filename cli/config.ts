import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the daemon is and how to speak to it. */
export interface CliConfig {
  readonly url: string;
  readonly token: string | undefined;
}

export class UsageError extends Error {
  readonly code = 'USAGE';
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The CLI's only reader of the environment. In order: --url/--token flags,
 * HEARTH_URL/HEARTH_TOKEN, the config file (--config, HEARTH_CONFIG, or
 * ~/.config/hearth/config.json: {"url", "token"}), then the local defaults:
 * http://127.0.0.1:8080 and, for a daemon on this machine only, the admin token
 * `npm start` wrote to ./data/admin-token.
 */
export function loadCliConfig(flags: { url?: string; token?: string; config?: string }, env: Env = process.env, cwd = process.cwd()): CliConfig {
  const file = flags.config ?? env.HEARTH_CONFIG ?? join(env.HOME ?? homedir(), '.config', 'hearth', 'config.json');
  const fromFile = readConfigFile(file, flags.config !== undefined || env.HEARTH_CONFIG !== undefined);
  const url = flags.url ?? env.HEARTH_URL ?? fromFile.url ?? 'http://127.0.0.1:8080';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${JSON.stringify(url)} (from --url, HEARTH_URL or the config file)`);
  }
  // The local daemon's admin token is only ever sent to the local daemon.
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  const token = flags.token ?? env.HEARTH_TOKEN ?? fromFile.token ?? (local ? readLocalToken(cwd) : undefined);
  return { url: url.replace(/\/+$/, ''), token };
}

function readConfigFile(file: string, required: boolean): { url?: string; token?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read the config file ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as { url?: unknown; token?: unknown };
    return {
      ...(typeof parsed.url === 'string' ? { url: parsed.url } : {}),
      ...(typeof parsed.token === 'string' ? { token: parsed.token } : {}),
    };
  } catch {
    throw new UsageError(`the config file ${file} is not JSON ({"url": "...", "token": "..."})`);
  }
}

function readLocalToken(cwd: string): string | undefined {
  try {
    return readFileSync(join(cwd, 'data', 'admin-token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
