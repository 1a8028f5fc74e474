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

import io
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time
import traceback
import types
from _queue import SimpleQueue  # queue.SimpleQueue itself: `import queue` costs each cold start ~1.5 ms

# Imports are kept to what serving needs: every millisecond of them is paid by
# each cold start (http.server alone, with http.client/ssl/email, costs ~23 ms).

RUNTIME_VERSION = "4"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEPS_DIR = "/opt/hearth/deps"
# Per-call captured output is bounded so one chatty call cannot exhaust memory.
MAX_LOG_CHARS = int(os.environ.get("HEARTH_MAX_LOG_CHARS", "262144"))
MEMORY_LIMIT_MB = int(os.environ.get("HEARTH_MEMORY_LIMIT_MB", "0") or "0")
TRUNCATED_MARKER = "\n[hearth: logs truncated]\n"


def emit(kind, payload, stream=sys.stdout):
    stream.write("%s %s\n" % (kind, json.dumps(payload)))
    stream.flush()


def relative(path, code_dir):
    try:
        rel = os.path.relpath(path, code_dir)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def describe_error(exc, code_dir):
    """file/line of the user's code that failed, plus the message and traceback."""
    file, line = None, None
    if isinstance(exc, SyntaxError) and exc.filename:
        file, line = relative(exc.filename, code_dir), exc.lineno
        message = "%s: %s" % (type(exc).__name__, exc.msg)
    else:
        # The innermost frame inside the module's own code is what the user can fix.
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.path.abspath(frame.filename).startswith(os.path.abspath(code_dir) + os.sep):
                file, line = relative(frame.filename, code_dir), frame.lineno
        message = "%s: %s" % (type(exc).__name__, exc)
    return {
        "type": type(exc).__name__,
        "file": file,
        "line": line,
        "message": message,
        "traceback": user_traceback(exc, code_dir),
    }


def user_traceback(exc, code_dir):
    """The traceback without hearth's and importlib's frames: only what the user wrote."""
    root = os.path.abspath(code_dir) + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename).startswith(root)]
    head = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) if frames else ""
    return head + "".join(traceback.format_exception_only(type(exc), exc))


def compile_tree(code_dir):
    import py_compile

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


def import_module(name, code_dir, deps_dir=DEPS_DIR):
    if not NAME_RE.match(name):
        raise ValueError("invalid module name %r" % name)
    # A module named like the standard library would silently import the stdlib one.
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        raise ImportError("module name %r shadows a Python standard library module; pick another name" % name)
    sys.path.insert(0, code_dir)
    if os.path.isdir(deps_dir):
        sys.path.insert(1, deps_dir)
    import importlib

    return importlib.import_module(name)


def list_functions(module):
    """Public plain functions defined by the module (or its own submodules)."""
    prefix = module.__name__
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not NAME_RE.match(name) or not isinstance(obj, types.FunctionType):
            continue
        owner = getattr(obj, "__module__", "") or ""
        if owner == prefix or owner.startswith(prefix + "."):
            names.append(name)
    return sorted(names)


class CallOutput:
    """Routes writes to sys.stdout/sys.stderr into the current call's buffer.

    Calls run on threads of a threading server, so the buffer is thread-local;
    output from threads that are not serving a call goes to the real stream.
    """

    def __init__(self):
        self.local = threading.local()

    def begin(self):
        self.local.buf = io.StringIO()
        self.local.size = 0

    def end(self):
        buf = getattr(self.local, "buf", None)
        self.local.buf = None
        return buf.getvalue() if buf is not None else ""

    def stream(self, fallback):
        return _CapturingStream(self, fallback)


class _CapturingStream(io.TextIOBase):
    def __init__(self, output, fallback):
        self.output = output
        self.fallback = fallback

    def writable(self):
        return True

    def write(self, text):
        local = self.output.local
        buf = getattr(local, "buf", None)
        if buf is None:
            return self.fallback.write(text)
        if local.size < MAX_LOG_CHARS:
            room = MAX_LOG_CHARS - local.size
            buf.write(text if len(text) <= room else text[:room] + TRUNCATED_MARKER)
            local.size += min(len(text), room + 1)
        return len(text)

    def flush(self):
        self.fallback.flush()


def to_json(payload):
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Invoker:
    def __init__(self, module, output):
        self.module = module
        self.output = output
        self.functions = frozenset(list_functions(module))

    def invoke(self, name, request):
        if not NAME_RE.match(name) or name not in self.functions:
            return 404, {
                "ok": False,
                "error": {"type": "FunctionNotFound", "message": "module %s has no function %r" % (self.module.__name__, name), "traceback": ""},
                "logs": "",
            }
        # getattr after the name check: the name is never evaluated.
        handler = getattr(self.module, name)
        event = request.get("event", {})
        context = request.get("context", {})
        self.output.begin()
        started = time.perf_counter()
        try:
            result = handler(event, context)
            if isinstance(result, types.CoroutineType):
                import asyncio

                result = asyncio.run(result)
        except BaseException as exc:  # noqa: BLE001 - whatever the handler raised is its result (CancelledError, SystemExit...)
            logs = self.output.end()
            message = str(exc)
            if isinstance(exc, MemoryError) and MEMORY_LIMIT_MB:
                message = "the handler ran out of memory: the module's limit is %d MiB (config memoryMb)" % MEMORY_LIMIT_MB
            return 200, {
                "ok": False,
                "error": {"type": type(exc).__name__, "message": message, "traceback": self.traceback(exc)},
                "logs": logs,
                "durationMs": round((time.perf_counter() - started) * 1000, 3),
            }
        duration = round((time.perf_counter() - started) * 1000, 3)
        logs = self.output.end()
        return 200, {"ok": True, "result": result, "logs": logs, "durationMs": duration}

    @staticmethod
    def traceback(exc):
        # Drop the runtime's own frame: the user's handler is where the trace starts.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        return "".join(traceback.format_exception(type(exc), exc, tb))

    def encode(self, status, reply):
        """(status, body bytes, extra headers). A success puts `result` last and names its
        byte range in X-Hearth-Result, so the gateway can forward it without re-encoding."""
        try:
            if reply.get("ok") is True:
                head = to_json({"ok": True, "logs": reply["logs"], "durationMs": reply["durationMs"]})[:-1] + b',"result":'
                result = to_json(reply["result"])
                extra = "X-Hearth-Result: %d-%d\r\nX-Hearth-Duration-Ms: %s\r\n" % (len(head), len(head) + len(result), reply["durationMs"])
                return status, head + result + b"}", extra
            return status, to_json(reply), ""
        except (TypeError, ValueError) as exc:
            # A return value json cannot encode is the handler's fault, not a crash.
            return 200, to_json({
                "ok": False,
                "error": {
                    "type": "ResultNotSerializable",
                    "message": "the handler's return value is not JSON-serializable: %s" % exc,
                    "traceback": "",
                },
                "logs": reply.get("logs", ""),
                "durationMs": reply.get("durationMs", 0),
            }), ""


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}
NOT_FOUND = b'{"ok":false,"error":{"type":"NotFound","message":"no such path"}}'
MAX_LINE = 65536
MAX_HEADERS = 100
# A call token is the gateway's: short, plain, echoed back verbatim in a header.
CALL_TOKEN_RE = re.compile(rb"^[A-Za-z0-9]{1,32}$")


class Handler(socketserver.StreamRequestHandler):
    """A minimal HTTP/1.1 server for the container protocol: one client (the
    gateway), Content-Length bodies, keep-alive. http.server would cost every
    cold start ~23 ms of imports and every request its email-based header parser.

    A request without X-Hearth-Call is plain HTTP/1.1 (curl, a health check,
    the gateway's call when it has only one in flight): answered on the
    connection's own thread before the next request is read. A request with
    `X-Hearth-Call: <token>` is multiplexed: it runs on a worker thread of the
    connection and its reply, naming the same token, is written when the call
    ends, so one connection carries many calls at once and the gateway writes
    several of them with one system call (DESIGN.md section 3)."""

    invoker = None  # set on the class by serve()
    health = b""

    def handle(self):
        self.write_lock = threading.Lock()
        self.closed = False
        self.workers = None
        try:
            self.serve_requests()
        finally:
            with self.write_lock:
                # Calls still running write nothing after this: the socket is about to be closed.
                self.closed = True
            if self.workers is not None:
                self.workers.stop()

    def serve_requests(self):
        rfile = self.rfile
        while True:
            line = rfile.readline(MAX_LINE + 1)
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                continue
            parts = line.split()
            if len(parts) != 3 or len(line) > MAX_LINE:
                self.send_body(400, b'{"ok":false,"error":{"type":"BadRequest","message":"malformed request line"}}', close=True)
                return
            method, target, version = parts
            length, close, call = 0, version == b"HTTP/1.0", None
            for _ in range(MAX_HEADERS + 1):
                header = rfile.readline(MAX_LINE + 1)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = -1
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
                elif name == b"transfer-encoding":
                    length = -1
                elif name == b"x-hearth-call":
                    call = value.strip()
            else:
                self.send_body(431, b'{"ok":false,"error":{"type":"BadRequest","message":"too many headers"}}', close=True)
                return
            if length < 0:
                self.send_body(400, b'{"ok":false,"error":{"type":"BadRequest","message":"a Content-Length body is required"}}', close=True)
                return
            if call is not None and not CALL_TOKEN_RE.match(call):
                self.send_body(400, b'{"ok":false,"error":{"type":"BadRequest","message":"X-Hearth-Call must be 1-32 letters or digits"}}', close=True)
                return
            body = rfile.read(length) if length else b""
            if call is not None and not close:
                if self.workers is None:
                    self.workers = Workers(self)
                self.workers.submit((method, target.decode("latin-1"), body, call))
                continue
            self.route(method, target.decode("latin-1"), body, call)
            if close:
                return

    def route(self, method, path, raw, call=None):
        if method == b"GET" and path == "/healthz":
            self.send_body(200, self.health, "X-Hearth-Multiplex: 1\r\n", call=call)
        elif method == b"POST" and path.startswith("/invoke/"):
            try:
                request = json.loads(raw) if raw else {}
                if not isinstance(request, dict):
                    raise ValueError("the request body must be a JSON object")
            except ValueError as exc:
                self.send_body(400, to_json({"ok": False, "error": {"type": "BadRequest", "message": str(exc)}}), call=call)
                return
            status, reply = self.invoker.invoke(path[len("/invoke/"):], request)
            self.send_body(*self.invoker.encode(status, reply), call=call)
        else:
            self.send_body(404, NOT_FOUND, call=call)

    def send_body(self, status, body, extra_headers="", close=False, call=None):
        if call is not None:
            extra_headers = "%sX-Hearth-Call: %s\r\n" % (extra_headers, call.decode("latin-1"))
        # Headers and body in one write: two writes cost a Nagle/delayed-ACK stall on TCP.
        head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s%s\r\n" % (
            status, REASONS.get(status, "OK"), len(body), extra_headers, "Connection: close\r\n" if close else "")
        data = head.encode("latin-1") + body
        # The lock keeps replies written by a connection's workers whole.
        with self.write_lock:
            if not self.closed:
                self.wfile.write(data)

    def fault(self, exc, call):
        """A 500 for a call the runtime itself failed (not the handler): the gateway reports it, the connection goes on."""
        try:
            self.send_body(500, to_json({"ok": False, "error": {"type": "RuntimeFault", "message": "%s: %s" % (type(exc).__name__, exc)}}), call=call)
        except OSError:
            pass


class Workers:
    """The worker threads of one multiplexed connection: started as calls need
    them (at most one more than the calls in flight, which the gateway bounds
    by the module's concurrency) and reused by later calls."""

    def __init__(self, handler):
        self.handler = handler
        self.queue = SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0
        self.count = 0

    def submit(self, request):
        with self.lock:
            start = self.idle == 0
            if start:
                self.count += 1
            else:
                self.idle -= 1
        if start:
            try:
                threading.Thread(target=self.work, daemon=True).start()
            except RuntimeError as exc:  # can't start new thread: a process or memory limit
                with self.lock:
                    self.count -= 1
                    alone = self.count == 0
                if alone:
                    # No worker will ever take it: this call fails now, the others on the connection go on.
                    self.handler.fault(exc, request[3])
                    return
        self.queue.put(request)

    def stop(self):
        with self.lock:
            count = self.count
        for _ in range(count):
            self.queue.put(None)

    def work(self):
        get, handler = self.queue.get, self.handler
        while True:
            request = get()
            if request is None:
                return
            try:
                handler.route(*request)
            except OSError:
                pass  # the gateway went away; the connection's thread ends the workers
            except BaseException as exc:  # noqa: BLE001 - a call must get an answer, not hang until its timeout
                handler.fault(exc, request[3])
            finally:
                with self.lock:
                    self.idle += 1


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


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
