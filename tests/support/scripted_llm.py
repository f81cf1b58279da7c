"""An OpenAI-compatible model server that replays canned replies: determinism for loop tests.

`ScriptedModel(script)` where script is a list of replies (served in order, the last one repeated)
or a function of the request's messages. It records every request it got. Runs on a real loopback
port in a thread, so the agent talks to it over HTTP exactly as to llama-server.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = list[str] | Callable[[list[dict[str, Any]]], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (deadline tests) leaves a broken pipe behind: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedModel:
    def __init__(self, script: Script, *, delay_s: float = 0.0, port: int = 0):
        self.script = script
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_for(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
        if callable(self.script):
            return self.script(body["messages"])
        return self.script[min(n - 1, len(self.script) - 1)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffer headers and body into one send: two small writes on a keep-alive connection
            # meet the client's delayed ACK and cost ~40 ms each (Nagle).
            wbufsize = 1 << 16

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                reply = model.reply_for(body)
                if model.delay_s:
                    time.sleep(model.delay_s)
                # Four characters a token, and max_tokens honoured, as a real server would.
                finish = "stop"
                cap = body.get("max_tokens")
                if isinstance(cap, int) and len(reply) > cap * 4:
                    reply, finish = reply[: cap * 4], "length"
                usage = {"prompt_tokens": 10, "completion_tokens": max(len(reply) // 4, 1)}
                if body.get("stream"):
                    events = [{"choices": [{"delta": {"content": reply}, "finish_reason": None}]}]
                    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                    self._send(200, text.encode(), "text/event-stream")
                    return
                out = {
                    "id": "cmpl-scripted",
                    "object": "chat.completion",
                    "model": "scripted",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                }
                self._send(200, json.dumps(out).encode())

        return Handler


def call(name: str, **arguments: Any) -> str:
    """A reply consisting of one well-formed tool call."""
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def tool_then_answer(messages: list[dict[str, Any]]) -> str:
    """One `shell uptime` call, then an answer once its result is in the conversation."""
    if "<tool_response>" in (messages[-1].get("content") or ""):
        return "The machine is up; load is low."
    return call("shell", command="uptime")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve canned replies on 127.0.0.1.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with ScriptedModel(tool_then_answer, port=args.port) as model:
        print(f"scripted model on {model.url}", flush=True)
        threading.Event().wait()
