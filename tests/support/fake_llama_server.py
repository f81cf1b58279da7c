"""A stand-in for `llama-server` whose "model file" says how it answers: deterministic gate tests.

Run as `python -m tests.support.fake_llama_server --model FILE --port P ...` (the arguments the
agent passes to llama-server; the rest are ignored). FILE is JSON:
  {"replies": {"<substring of the user prompt>": "<reply>", ...}, "default": "<reply>",
   "crash": false, "starts": "<file to append one line to per start>"}
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from tests.support.scripted_llm import ScriptedModel


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args, _ = parser.parse_known_args()
    spec = json.loads(args.model.read_text())
    if spec.get("starts"):
        with open(spec["starts"], "a") as fh:
            fh.write(f"{args.model}\n")
    if spec.get("crash"):
        print("fake llama-server: failed to load model (as asked)", file=sys.stderr)
        return 1

    def answer(messages: list[dict]) -> str:
        prompt = messages[-1]["content"]
        for key, reply in spec.get("replies", {}).items():
            if key in prompt:
                return reply
        return spec.get("default", "I do not know.")

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with ScriptedModel(answer, port=args.port):
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
