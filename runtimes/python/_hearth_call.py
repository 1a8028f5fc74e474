"""The call: importing the user's module, running one of its functions, capturing
what it prints, and encoding the reply. Part of hearth's in-container runtime
(hearth_runtime.py is the entry point); standard library only."""

import io
import json
import os
import re
import sys
import threading
import time
import traceback
import types

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEPS_DIR = "/opt/hearth/deps"
# Per-call captured output is bounded so one chatty call cannot exhaust memory.
MAX_LOG_CHARS = int(os.environ.get("HEARTH_MAX_LOG_CHARS", "262144"))
MEMORY_LIMIT_MB = int(os.environ.get("HEARTH_MEMORY_LIMIT_MB", "0") or "0")
TRUNCATED_MARKER = "\n[hearth: logs truncated]\n"


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
        for frame in user_frames(exc, code_dir):
            file, line = relative(frame.filename, code_dir), frame.lineno
        message = "%s: %s" % (type(exc).__name__, exc)
    return {
        "type": type(exc).__name__,
        "file": file,
        "line": line,
        "message": message,
        "traceback": user_traceback(exc, code_dir),
    }


def user_frames(exc, code_dir):
    """The traceback's frames in the module's own code, outermost first (not hearth's, not importlib's)."""
    root = os.path.abspath(code_dir) + os.sep
    return [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename).startswith(root)]


def user_traceback(exc, code_dir):
    """The traceback without hearth's and importlib's frames: only what the user wrote."""
    frames = user_frames(exc, code_dir)
    head = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) if frames else ""
    return head + "".join(traceback.format_exception_only(type(exc), exc))


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
        except Exception as exc:  # noqa: BLE001 - whatever stops the encoding (a type, a cycle, depth, a dict subclass's items()) is the value's
            # A return value json cannot encode is the handler's fault, not a crash.
            return 200, to_json({
                "ok": False,
                "error": {
                    "type": "ResultNotSerializable",
                    "message": "the handler's return value is not JSON-serializable: %s: %s" % (type(exc).__name__, exc),
                    "traceback": "",
                },
                "logs": reply.get("logs", ""),
                "durationMs": reply.get("durationMs", 0),
            }), ""
