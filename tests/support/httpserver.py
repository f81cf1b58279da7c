"""A real HTTP(S) server on 127.0.0.1 for tests, run as its own process (stdlib only).

    with run_http_server() as srv:            # srv.url == "http://127.0.0.1:PORT"
    with run_http_server(tls=True) as srv:    # self-signed certificate: clients must refuse it

Routes (GET unless noted):
  /ok                       200 {"ok": true}
  /status/N                 status N, short body
  /big/N                    N bytes of numbered lines
  /forever                  a body that never ends (until the client hangs up)
  /slow/S                   sleeps S seconds, then 200
  /redirect?to=URL&code=C   redirect (default 302) to URL
  /say?text=T               200 with body T
  /echo (any method)        200 JSON: method, path, headers, body
  /gzip/N                   N bytes of text, gzip-encoded

The server prints "LISTENING <port>" once bound to port 0, so there is no free-port race.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import json
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    server_version = "halops-test"

    def log_message(self, fmt: str, *args: object) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "text/plain", extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        head = parts[0] if parts else ""
        if head == "ok":
            return self._send(200, b'{"ok": true}\n', "application/json")
        if head == "status":
            code = int(parts[1])
            return self._send(code, f"status {code}\n".encode())
        if head == "big":
            n = int(parts[1])
            line = b"".join(b"line %08d of the big body\n" % i for i in range(n // 26 + 1))
            return self._send(200, line[:n])
        if head == "gzip":
            n = int(parts[1])
            body = gzip.compress(b"z" * n)
            return self._send(200, body, extra={"Content-Encoding": "gzip"})
        if head == "forever":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            chunk = b"x" * 65535 + b"\n"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while True:
                    self.wfile.write(chunk)
            return None
        if head == "slow":
            time.sleep(float(parts[1]))
            return self._send(200, b"finally\n")
        if head == "redirect":
            code = int(q.get("code", "302"))
            return self._send(code, b"moved\n", extra={"Location": q.get("to", "/ok")})
        if head == "say":
            return self._send(200, q.get("text", "").encode())
        if head == "echo":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            doc = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            return self._send(200, json.dumps(doc).encode(), "application/json")
        return self._send(404, b"not found\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _route


def serve(port: int, certfile: str | None, keyfile: str | None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    if certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


def self_signed(directory: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway self-signed certificate for `name` (no CA trusts it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class HttpServer:
    port: int
    pid: int
    scheme: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_http_server(*, tls: bool = False, ready_timeout: float = 10.0) -> Iterator[HttpServer]:
    """Start the server as a child process on a free port; stops it by PID on exit."""
    with tempfile.TemporaryDirectory(prefix="halops-http-") as tmp:
        argv = [sys.executable, str(Path(__file__).resolve()), "--port", "0"]
        if tls:
            cert, key = self_signed(Path(tmp))
            argv += ["--cert", str(cert), "--key", str(key)]
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + ready_timeout
            line = b""
            while time.monotonic() < deadline and not line.startswith(b"LISTENING"):
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
            if not line.startswith(b"LISTENING"):
                raise RuntimeError(f"test HTTP server did not start: {line!r}")
            yield HttpServer(port=int(line.split()[1]), pid=proc.pid, scheme="https" if tls else "http")
        finally:
            from tests.support.procs import stop  # here: this file also runs as a script

            stop(proc, 5)
            if proc.stdout is not None:
                proc.stdout.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    serve(a.port, a.cert, a.key)
