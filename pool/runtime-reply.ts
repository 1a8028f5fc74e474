/** The error part of a failed call (DESIGN.md section 3). */
export interface RuntimeError {
  readonly type: string;
  readonly message: string;
  readonly traceback: string;
}

interface ReplyBody {
  ok?: boolean;
  result?: unknown;
  error?: RuntimeError;
  logs?: string;
  durationMs?: number;
}

const NO_LOGS = Buffer.from('{"ok":true,"logs":"",');

/**
 * What the runtime answered for one call. On success the runtime names the
 * byte range of `result` in its body (X-Hearth-Result), so the hot path hands
 * those bytes on without parsing and re-encoding them; the body is parsed only
 * when something asks for more (logs, an error).
 */
export class RuntimeReply {
  private parsedBody: ReplyBody | undefined;

  constructor(
    private readonly body: Buffer,
    private readonly resultRange: readonly [number, number] | undefined,
    private readonly durationHeader?: string | string[],
  ) {}

  /** Parses the `X-Hearth-Result: start-end` header; undefined when absent or malformed. */
  static range(header: string | string[] | undefined, size: number): [number, number] | undefined {
    if (typeof header !== 'string') return undefined;
    const match = /^(\d+)-(\d+)$/.exec(header);
    if (match === null) return undefined;
    const start = Number(match[1]);
    const end = Number(match[2]);
    return start <= end && end <= size ? [start, end] : undefined;
  }

  get ok(): boolean {
    return this.resultRange !== undefined || this.parsed.ok === true;
  }

  /** The handler's return value as JSON bytes. */
  get resultJson(): Buffer {
    if (this.resultRange !== undefined) return this.body.subarray(this.resultRange[0], this.resultRange[1]);
    return Buffer.from(JSON.stringify(this.parsed.result ?? null));
  }

  get result(): unknown {
    return this.resultRange !== undefined ? JSON.parse(this.resultJson.toString('utf8')) : this.parsed.result;
  }

  get error(): RuntimeError | undefined {
    return this.parsed.error;
  }

  get logs(): string {
    // Most calls print nothing: the runtime's success head then starts with this, and the body needs no parse.
    if (this.resultRange !== undefined && this.body.length >= NO_LOGS.length && this.body.compare(NO_LOGS, 0, NO_LOGS.length, 0, NO_LOGS.length) === 0) {
      return '';
    }
    return this.parsed.logs ?? '';
  }

  get durationMs(): number {
    if (typeof this.durationHeader === 'string') return Number(this.durationHeader);
    return this.parsed.durationMs ?? 0;
  }

  private get parsed(): ReplyBody {
    this.parsedBody ??= JSON.parse(this.body.toString('utf8')) as ReplyBody;
    return this.parsedBody;
  }
}
