/** Typed errors raised by the gateway itself; http-errors.ts maps their codes to statuses. */

export class ModuleNotFoundError extends Error {
  readonly code = 'MODULE_NOT_FOUND';
  constructor(module: string) {
    super(`no module named ${module} is deployed`);
  }
}

export class UnknownFunctionError extends Error {
  readonly code = 'FUNCTION_NOT_FOUND';
  constructor(
    module: string,
    fn: string,
    readonly details: { readonly functions: readonly string[] },
  ) {
    super(`module ${module} defines no function ${fn}`);
  }
}

/** The handler raised: the caller's fault, reported with its traceback and logs. */
export class HandlerError extends Error {
  readonly code = 'HANDLER_ERROR';
  constructor(readonly details: { readonly type: string; readonly traceback: string; readonly logs: string }, message: string) {
    super(message);
  }
}

export class UnauthorizedError extends Error {
  readonly code = 'UNAUTHORIZED';
}

export class InvalidRequestError extends Error {
  readonly code = 'INVALID_REQUEST';
}

export class JobNotFoundError extends Error {
  readonly code = 'JOB_NOT_FOUND';
  constructor(id: string) {
    super(`no async job ${id}`);
  }
}

/** Only a queued job can be cancelled. */
export class JobNotCancellableError extends Error {
  readonly code = 'JOB_NOT_CANCELLABLE';
  readonly details: { readonly status: string };
  constructor(id: string, status: string) {
    super(`job ${id} is ${status}: only a queued job can be cancelled`);
    this.details = { status };
  }
}

export class CallbackNotAllowedError extends Error {
  readonly code = 'CALLBACK_NOT_ALLOWED';
}

export class WorkflowNotFoundError extends Error {
  readonly code = 'WORKFLOW_NOT_FOUND';
  constructor(name: string) {
    super(`no workflow named ${name}`);
  }
}

/** The document failed validation: every problem, each with its place. */
export class WorkflowInvalidError extends Error {
  readonly code = 'INVALID_WORKFLOW';
  constructor(readonly details: { readonly problems: readonly { readonly at: string; readonly message: string }[] }) {
    const first = details.problems[0];
    const more = details.problems.length > 1 ? ` (and ${details.problems.length - 1} more problems)` : '';
    super(`the workflow is invalid: ${first === undefined ? 'unknown problem' : `${first.at}: ${first.message}`}${more}`);
  }
}

export class RunNotFoundError extends Error {
  readonly code = 'RUN_NOT_FOUND';
  constructor(id: string) {
    super(`no workflow run ${id}`);
  }
}

/** A synchronous run ended without success; details carry the run record with every step. */
export class WorkflowRunError extends Error {
  constructor(
    readonly code: 'WORKFLOW_FAILED' | 'WORKFLOW_TIMEOUT' | 'SHUTTING_DOWN',
    message: string,
    readonly details: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

export class InvocationNotFoundError extends Error {
  readonly code = 'INVOCATION_NOT_FOUND';
  constructor(id: string) {
    super(`no invocation record ${id} (records are written within HEARTH_INVOCATION_FLUSH_MS and kept per HEARTH_INVOCATION_TTL)`);
  }
}
