import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AdminToken {
  readonly token: string;
  /** Where a generated token was stored (undefined when it came from HEARTH_ADMIN_TOKEN). */
  readonly file: string | undefined;
}

/** HEARTH_ADMIN_TOKEN when set; otherwise the token in dataDir/admin-token, generated on first start. */
export async function resolveAdminToken(configured: string | undefined, dataDir: string): Promise<AdminToken> {
  if (configured !== undefined) return { token: configured, file: undefined };
  const file = join(dataDir, 'admin-token');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored !== '') return { token: stored, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}
