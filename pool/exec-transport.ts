import type { ExecRequest, ExecResult } from './driver.js';
import { FunctionNotFoundError } from './errors.js';
import { RuntimeReply } from './runtime-reply.js';
import type { InstanceTransport } from './transport.js';

// Linux caps one environment string at 128 KiB: larger events reach the command on stdin only.
const MAX_ENV_JSON_BYTES = 64 * 1024;
const MAX_RESULT_BYTES = 16 * 1024 * 1024;
const MAX_LOG_BYTES = 64 * 1024;
const TRACEBACK_BYTES = 4 * 1024;

/**
 * Image functions: the instance is a warm container of the user's image, and
 * each call runs the function's command inside it (DESIGN.md section 3's
 * reply, made from the process): the event as JSON on stdin and in
 * HEARTH_EVENT, SCAR's INPUT_FILE_PATH / TMP_OUTPUT_DIR for file-triggered
 * calls, stdout as the result (JSON when it parses, text otherwise), stderr as
 * the logs, and a non-zero exit as a failed call.
 */
export class ExecTransport implements InstanceTransport {
  /**
   * `run` carries out one process: through the supervisor in the container
   * (exec-helper-client.ts) or the driver's own exec. `ready` says when the
   * instance can take calls (the supervisor answers).
   */
  constructor(
    private readonly run: (request: ExecRequest) => Promise<ExecResult>,
    private readonly commands: Readonly<Record<string, readonly string[]>>,
    readonly ready: () => Promise<boolean> = async () => true,
  ) {}

  async send(fn: string, body: string): Promise<RuntimeReply> {
    const argv = Object.hasOwn(this.commands, fn) ? this.commands[fn] : undefined;
    if (argv === undefined) throw new FunctionNotFoundError(`function ${fn} not found in the module`);
    const call = JSON.parse(body) as { event?: unknown; context?: Record<string, unknown> };
    const event = JSON.stringify(call.event ?? null);
    const started = performance.now();
    const result = await this.run({
      argv,
      stdin: Buffer.from(`${event}\n`),
      env: callEnv(fn, event, call.context ?? {}),
      maxOutputBytes: MAX_RESULT_BYTES,
    });
    return execReply(result, performance.now() - started);
  }

  async close(): Promise<void> {}
}

/** What the command sees besides stdin: the event and context as JSON, and SCAR's file variables. */
export function callEnv(fn: string, event: string, context: Readonly<Record<string, unknown>>): Record<string, string> {
  const env: Record<string, string> = { HEARTH_FUNCTION: fn };
  const text = (key: string): string | undefined => (typeof context[key] === 'string' ? (context[key] as string) : undefined);
  const put = (name: string, value: string | undefined): void => {
    if (value !== undefined) env[name] = value;
  };
  put('HEARTH_MODULE', text('module'));
  put('HEARTH_REQUEST_ID', text('request_id'));
  put('HEARTH_TRIGGER', text('trigger'));
  put('INPUT_FILE_PATH', text('input_file_path'));
  put('TMP_OUTPUT_DIR', text('tmp_output_dir'));
  if (Buffer.byteLength(event) <= MAX_ENV_JSON_BYTES) env.HEARTH_EVENT = event;
  const contextJson = JSON.stringify(context);
  if (Buffer.byteLength(contextJson) <= MAX_ENV_JSON_BYTES) env.HEARTH_CONTEXT = contextJson;
  return env;
}

/** Turns a finished process into the runtime's reply. */
export function execReply(result: ExecResult, durationMs: number): RuntimeReply {
  const logs = tail(result.stderr, MAX_LOG_BYTES);
  const duration = Math.round(durationMs * 1000) / 1000;
  if (result.exitCode !== 0 || result.stdoutTruncated) {
    const lastLine = logs.trim().split('\n').at(-1) ?? '';
    const error =
      result.exitCode !== 0
        ? {
            type: 'NonZeroExit',
            message: `the command ${result.exitCode === null ? 'ended without an exit status' : `exited with status ${result.exitCode}`}${lastLine ? `: ${lastLine}` : ''}`,
            traceback: tail(result.stderr, TRACEBACK_BYTES),
          }
        : { type: 'OutputTooLarge', message: `the command wrote more than ${MAX_RESULT_BYTES} bytes to stdout`, traceback: '' };
    return new RuntimeReply(Buffer.from(JSON.stringify({ ok: false, error, logs, durationMs: duration })), undefined);
  }
  const result_ = resultJson(result.stdout);
  const head = Buffer.from('{"ok":true,"result":');
  const rest = Buffer.from(`,"logs":${JSON.stringify(logs)},"durationMs":${duration}}`);
  const body = Buffer.concat([head, result_, rest]);
  return new RuntimeReply(body, [head.length, head.length + result_.length], String(duration));
}

/** stdout as JSON bytes: itself when it is JSON, a string otherwise (one trailing newline dropped), null when empty. */
function resultJson(stdout: Buffer): Buffer {
  const text = stdout.toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return Buffer.from('null');
  try {
    JSON.parse(trimmed);
    return Buffer.from(trimmed);
  } catch {
    return Buffer.from(JSON.stringify(text.endsWith('\n') ? text.slice(0, -1) : text));
  }
}

function tail(bytes: Buffer, max: number): string {
  return (bytes.length > max ? bytes.subarray(bytes.length - max) : bytes).toString('utf8');
}
