"""hearth's in-container runtime (standard library only).

Three modes, all run by the image hearth builds for a module:

  compile --code DIR                  byte-compile every .py (build time, as root)
  check   --code DIR --module NAME    import the module once, print its functions
  serve   --code DIR --module NAME --socket PATH
                                      import the module, then serve the container
                                      protocol (DESIGN.md section 3) on a Unix socket

`--deps DIR` names where requirements were installed (default /opt/hearth/deps).
The process driver runs the same file as a local process; it asks, through the
environment, for limits a container would otherwise enforce:
HEARTH_MEMORY_LIMIT_MB (RLIMIT_AS), HEARTH_MAX_PROCS (RLIMIT_NPROC) and
HEARTH_PARENT_PID (die with that parent), all set before the module is imported.

Build-time results are printed as one line `HEARTH_RESULT {json}` or
`HEARTH_ERROR {json}` so the builder can turn a syntax or import error into a
400 naming the file and line. In serve mode an import error is printed the same
way to stderr and the process exits 1, which fails the container's start.
"""

import json
import os
import signal
import sys
import threading

# The runtime's other modules sit beside this file, in the folder Python puts
# first on sys.path. Imported before the user's code, they would shadow a user
# module of the same name: hence names no one picks for their own, _hearth_*.
from _hearth_call import DEPS_DIR, MEMORY_LIMIT_MB, CallOutput, Invoker, describe_error, import_module, list_functions, to_json
from _hearth_http import Handler, Server

# Imports are kept to what serving needs: every millisecond of them is paid by
# each cold start (http.server alone, with http.client/ssl/email, costs ~23 ms).

RUNTIME_VERSION = "4"
# Byte-compiled at build time with the user's code, so a cold start loads them from .pyc.
OWN_MODULES = ("_hearth_call.py", "_hearth_http.py")


def emit(kind, payload, stream=sys.stdout):
    stream.write("%s %s\n" % (kind, json.dumps(payload)))
    stream.flush()


def compile_tree(code_dir):
    import py_compile

    here = os.path.dirname(os.path.abspath(__file__))
    for name in OWN_MODULES:
        py_compile.compile(os.path.join(here, name), doraise=True)
    for root, _dirs, files in os.walk(code_dir):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            try:
                py_compile.compile(path, doraise=True)
            except py_compile.PyCompileError as err:
                emit("HEARTH_ERROR", describe_error(err.exc_value, code_dir))
                return 1
    return 0


def apply_process_limits():
    """Limits for a process that no container bounds; set before the module's code runs."""
    parent = int(os.environ.get("HEARTH_PARENT_PID") or "0")
    if parent:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        # The daemon may have died before prctl took effect.
        if os.getppid() != parent:
            os._exit(1)
    if MEMORY_LIMIT_MB or os.environ.get("HEARTH_MAX_PROCS"):
        import resource

        if MEMORY_LIMIT_MB:
            # Address space, not RSS: keep thread stacks small so threads do not eat the budget.
            threading.stack_size(1024 * 1024)
            limit = MEMORY_LIMIT_MB * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        procs = int(os.environ.get("HEARTH_MAX_PROCS") or "0")
        if procs:
            resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))


def serve(args):
    output = CallOutput()
    real_stdout, real_stderr = sys.stdout, sys.stderr
    apply_process_limits()
    try:
        module = import_module(args.module, args.code, args.deps)
    except BaseException as exc:  # noqa: BLE001 - any import failure ends the start
        emit("HEARTH_ERROR", describe_error(exc, args.code), real_stderr)
        return 1
    sys.stdout, sys.stderr = output.stream(real_stdout), output.stream(real_stderr)
    invoker = Invoker(module, output)
    Handler.invoker = invoker
    Handler.health = to_json({"ok": True, "module": args.module, "functions": sorted(invoker.functions),
                              "runtime": RUNTIME_VERSION, "pid": os.getpid()})
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    server = Server(args.socket, Handler)
    # The gateway may run as another user than the function; it must reach the socket.
    os.chmod(args.socket, 0o666)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        try:
            os.unlink(args.socket)
        except OSError:
            pass
    return 0


def check(args):
    apply_process_limits()
    try:
        module = import_module(args.module, args.code, args.deps)
    except BaseException as exc:  # noqa: BLE001
        emit("HEARTH_ERROR", describe_error(exc, args.code))
        return 1
    emit("HEARTH_RESULT", {"functions": list_functions(module), "runtime": RUNTIME_VERSION})
    return 0


USAGE = "usage: hearth_runtime.py {compile|check|serve} --code DIR [--module NAME] [--socket PATH] [--deps DIR]"


class Args:
    def __init__(self, argv):
        # A hand-rolled parser: argparse costs every cold start ~9 ms of imports.
        if not argv or argv[0] not in ("compile", "check", "serve"):
            raise SystemExit(USAGE)
        self.mode, self.code, self.module, self.socket, self.deps = argv[0], None, None, "/run/hearth/fn.sock", DEPS_DIR
        rest = argv[1:]
        if len(rest) % 2:
            raise SystemExit(USAGE)
        for flag, value in zip(rest[::2], rest[1::2]):
            if flag not in ("--code", "--module", "--socket", "--deps"):
                raise SystemExit("unknown option %s\n%s" % (flag, USAGE))
            setattr(self, flag[2:], value)
        if self.code is None or (self.mode != "compile" and self.module is None):
            raise SystemExit(USAGE)


def main(argv):
    args = Args(argv)
    if args.mode == "compile":
        return compile_tree(args.code)
    return check(args) if args.mode == "check" else serve(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
