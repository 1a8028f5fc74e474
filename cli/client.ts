import type { CliConfig } from './config.js';

/** The server answered with an error: its code and message are what the user sees. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  readonly body?: unknown;
  /** A body sent as is (multipart, YAML). */
  readonly raw?: { readonly data: BodyInit; readonly contentType?: string };
  readonly headers?: Readonly<Record<string, string>>;
  /** Statuses that are answers rather than errors (404 when checking existence). */
  readonly accept?: readonly number[];
  /** The body is a stream (an upload): fetch needs to be told it goes one way. */
  readonly duplex?: boolean;
}

/** A thin HTTP client of the hearth API: one method, JSON in and out, errors as ServerError. */
export class HearthClient {
  constructor(private readonly config: CliConfig) {}

  get url(): string {
    return this.config.url;
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await this.fetch(method, path, options);
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const body = (type.includes('json') && text !== '' ? JSON.parse(text) : text) as T;
    if (res.status >= 400 && !(options.accept ?? []).includes(res.status)) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ServerError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text || res.statusText), body);
    }
    return { status: res.status, body, headers: res.headers };
  }

  /** The raw response, for streams (logs -f). */
  async fetch(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.config.token !== undefined) headers.authorization = `Bearer ${this.config.token}`;
    let body: BodyInit | undefined;
    if (options.raw !== undefined) {
      body = options.raw.data;
      if (options.raw.contentType !== undefined) headers['content-type'] = options.raw.contentType;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    try {
      return await fetch(`${this.config.url}${path}`, { method, headers, body, ...(options.duplex === true ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerError(0, 'UNREACHABLE', `cannot reach hearth at ${this.config.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, undefined);
    }
  }
}
