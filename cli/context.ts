import type { HearthClient } from './client.js';
import type { Output } from './output.js';

/** What every command gets: the HTTP client and the output. */
export interface Context {
  readonly client: HearthClient;
  readonly out: Output;
}
