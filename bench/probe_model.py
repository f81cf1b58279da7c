"""Look inside a GGUF's choices: which tool it would name, and what it answers from a result.

    .venv/bin/python bench/probe_model.py choice MODEL.gguf ["question" ...]
    .venv/bin/python bench/probe_model.py answers MODEL.gguf <data_dir>/bootstrap/data/train.jsonl [-n 6]
    .venv/bin/python bench/probe_model.py df MODEL.gguf [--command "df -h"]

`choice`: for each question, the probability of each tool name after `<tool_call>\\n{"name":`,
from the model's own log-probabilities of `"ssh", "arguments"` and so on (renormalised over the
four tools), with the agent's system prompt. The eval only says which tool greedy decoding
picked; this says by how much, which is what showed that run 7 had barely learned ssh vs shell.
`answers`: the model's answers to the first N disk/memory/load `tool` episodes of a synth file,
next to the answers it was trained on. `df`: its answer to "How full are the disks on this
machine?" after a real `df` of this machine, as `halops up` would show it.

Greedy, no grammar, one process; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.config import DEFAULT_INSTRUCTIONS  # noqa: E402
from halops.calls import tool_schemas  # noqa: E402
from halops.prompt import RenderedResult, system_prompt, tool_response_message  # noqa: E402

TOOLS = ("ssh", "shell", "ipmi", "http")
QUESTIONS = (
    "Check disk usage on web1.",
    "How much memory is free on db2?",
    "What's the load average on app3 right now?",
    "How full are the disks on this machine?",
    "Take a look at the inodes on the halops box.",
    "Find out open TCP ports on this machine.",
)
DISK_QUESTION = "How full are the disks on this machine?"


def _model(path: Path, logits: bool = False):
    from llama_cpp import Llama

    return Llama(str(path), n_ctx=4096, logits_all=logits, verbose=False)


def choice(model_path: Path, questions: list[str]) -> None:
    import numpy as np

    model = _model(model_path, logits=True)
    system = system_prompt(DEFAULT_INSTRUCTIONS, tools=tool_schemas())

    def logprob(prefix: str, continuation: str) -> float:
        head = model.tokenize(prefix.encode(), add_bos=False, special=True)
        full = model.tokenize((prefix + continuation).encode(), add_bos=False, special=True)
        k = next((i for i, (a, b) in enumerate(zip(head, full, strict=False)) if a != b), len(head))
        model.reset()
        model.eval(full)
        total = 0.0
        for i in range(k, len(full)):
            row = np.asarray(model.scores[i - 1], dtype=np.float64)
            total += row[full[i]] - np.logaddexp.reduce(row)
        return total

    for q in questions:
        prefix = (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n"
            '<|im_start|>assistant\n<tool_call>\n{"name":'
        )
        scores = {t: logprob(prefix, f' "{t}", "arguments"') for t in TOOLS}
        z = np.logaddexp.reduce(list(scores.values()))
        shares = "  ".join(f"{t} {np.exp(v - z):.2f}" for t, v in scores.items())
        print(f"{shares}  | {q}")


def answers(model_path: Path, data: Path, n: int) -> None:
    model = _model(model_path)
    shown = 0
    for line in data.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        meta = row["metadata"]
        if meta["kind"] != "tool" or meta["task"] not in ("disk", "memory", "load"):
            continue
        got = model.create_chat_completion(row["messages"][:-1], temperature=0, max_tokens=90)
        print(f"Q: {row['messages'][1]['content']}")
        print(f"trained: {row['messages'][-1]['content'][:160]}")
        print(f"model:   {got['choices'][0]['message']['content'][:160]}\n")
        shown += 1
        if shown >= n:
            break


def df(model_path: Path, command: str) -> None:
    model = _model(model_path)
    out = subprocess.run(command.split(), capture_output=True, text=True).stdout
    call = json.dumps({"name": "shell", "arguments": {"command": command}})
    messages = [
        {"role": "system", "content": system_prompt(DEFAULT_INSTRUCTIONS, tools=tool_schemas())},
        {"role": "user", "content": DISK_QUESTION},
        {"role": "assistant", "content": f"<tool_call>\n{call}\n</tool_call>"},
        tool_response_message([RenderedResult("shell", {"status": "ok", "exit_code": 0, "stdout": out})]),
    ]
    got = model.create_chat_completion(messages, temperature=0, max_tokens=160)
    print(out + "\n" + got["choices"][0]["message"]["content"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("choice")
    p.add_argument("model", type=Path)
    p.add_argument("questions", nargs="*")
    p = sub.add_parser("answers")
    p.add_argument("model", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("-n", type=int, default=6)
    p = sub.add_parser("df")
    p.add_argument("model", type=Path)
    p.add_argument("--command", default="df -h")
    args = parser.parse_args()
    if not args.model.is_file():
        print(f"error: model file not found: {args.model}", file=sys.stderr)
        return 2
    if args.mode == "choice":
        choice(args.model, args.questions or list(QUESTIONS))
    elif args.mode == "answers":
        if not args.data.is_file():
            print(f"error: data file not found: {args.data}", file=sys.stderr)
            return 2
        answers(args.model, args.data, args.n)
    else:
        df(args.model, args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
