"""Capture real tool output for `halops data synth`: trainer/data/synth/observations.jsonl.

Runs every shell/ssh command of the synth catalogue through the agent's real executors (policy,
executor, scrubber): on this machine through the `shell` tool and over SSH to a real sshd on
loopback (the test fleet's recipe, tests/support). What comes back, failures included (no
systemd here, no GPU, no /proc/mdstat), is what those commands print on a real host, and the
synth episodes use it beside their rendered variants.

    .venv/bin/python bench/synth_capture.py [--out trainer/data/synth/observations.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.executors.dispatch import Executors  # noqa: E402
from halops.calls import ToolCall  # noqa: E402
from tests.support import sshd  # noqa: E402
from tests.support.fleet import Fleet, add_ssh_host  # noqa: E402
from trainer.data.synth.outputs import SERVICES  # noqa: E402
from trainer.data.synth.tasks import CMD  # noqa: E402


def commands() -> list[str]:
    out: list[str] = []
    for diag in CMD:
        for template in diag.commands:
            for svc in SERVICES[:3] if "{svc}" in template else [None]:
                cmd = template.format(svc=svc) if svc else template
                if cmd not in out:
                    out.append(cmd)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "trainer/data/synth/observations.jsonl")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sshd.run_sshd(Path(tmp) / "sshd") as srv:
        (Path(tmp) / "fleet").mkdir()
        fleet = Fleet(Path(tmp) / "fleet")
        add_ssh_host(fleet, srv, "capture")
        # The capture is one burst of ~50 calls: the policy's rate limits would refuse most of it.
        settings = fleet.settings()
        settings = settings.model_copy(
            update={"safety": settings.safety.model_copy(update={"rate_limit_enabled": False})}
        )
        fleet.write_inventory()
        executors = Executors(settings, env={})
        try:
            for command in commands():
                for tool, arguments in (
                    ("shell", {"command": command}),
                    ("ssh", {"host": "capture", "command": command}),
                ):
                    ex = executors.run(ToolCall(tool=tool, arguments=arguments), request_id="capture")
                    r = ex.result
                    if str(r.status) not in ("ok", "error"):
                        print(f"skip {tool} {command!r}: {r.status}", file=sys.stderr)
                        continue
                    rows.append(
                        {
                            "tool": tool,
                            "command": command,
                            "exit_code": r.exit_code,
                            "stdout": r.stdout,
                            "stderr": r.stderr,
                        }
                    )
                    print(f"{tool:5} exit {r.exit_code!s:>4}  {command}", file=sys.stderr)
        finally:
            executors.close()
    args.out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"{len(rows)} observations → {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
