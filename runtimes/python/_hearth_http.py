"""The container protocol's HTTP/1.1 server (DESIGN.md section 3): plain
requests answered in order on the connection's thread, multiplexed ones on
worker threads. Part of hearth's in-container runtime (hearth_runtime.py is
the entry point); standard library only."""

import json
import re
import socketserver
import threading
from _queue import SimpleQueue  # queue.SimpleQueue itself: `import queue` costs each cold start ~1.5 ms

from _hearth_call import to_json

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}
NOT_FOUND = b'{"ok":false,"error":{"type":"NotFound","message":"no such path"}}'
INVALID_EVENT = b'{"ok":false,"error":{"type":"InvalidEvent","message":"the event is nested too deeply for the function\'s runtime to decode (Python\'s json stops near 1,000 levels)"}}'
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
            try:
                self.route(method, target.decode("latin-1"), body, call)
            except OSError:
                return  # the gateway went away
            except BaseException as exc:  # noqa: BLE001 - as on a worker: an answer, and the connection goes on
                self.fault(exc, call)
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
            except RecursionError:
                # Valid JSON (the gateway parsed it) nested deeper than Python's json decodes: the caller's to fix.
                self.send_body(400, INVALID_EVENT, call=call)
                return
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
