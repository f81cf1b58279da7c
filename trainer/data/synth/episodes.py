"""Episodes: one operator request played through the agent's loop, in the agent's exact format.

The system prompt is the agent's own (`system_prompt()`, tool block included, runbook excerpts on
some episodes as retrieval adds them at run time), calls are the `<tool_call>` text the grammar
allows, results are `<tool_response>` user turns shaped by the loop's `ToolOutcome.for_model`, and
the policy's answers come from the real policy (`safety.check.check`) on a generated inventory.
So a fine-tune sees the bytes it will see when it serves, for any base model.

Kinds (shares in `MIX`): `tool` (ask → call → result → grounded answer), `call` (ask → the first
call, nothing after it), `follow-up` (a second, closer look when the first result shows trouble),
`policy` (a host outside the inventory, a call that waits for approval or is denied, a tool that
errs or times out, reported honestly) and `restraint` (a general question answered in prose, no
tool).

Why `call`: choosing the tool and the command is the skill the eval's tool-use category measures,
and in a whole episode its ~25 labelled tokens are outweighed by the ~150 of the answer and cost
the tool result's tokens on top. A call-only episode costs ~65 tokens past the shared prompt, so
the same CPU minutes show the model about 3× more choices, spread evenly over every diagnostic
(whole episodes draw shell/ssh diagnostics 72 % of the time, so BMC and HTTP were rare).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from halops.calls import ToolCall, tool_schemas
from halops.outcome import ToolOutcome
from halops.prompt import RenderedResult, system_prompt, tool_response_message
from safety.check import check
from safety.decision import Verdict
from safety.inventory import BmcEndpoint, Host, HttpEndpoint, Inventory, SshEndpoint
from trainer.data.chatml import tool_call_text
from trainer.data.synth import knowledge, phrasing, policy_asks
from trainer.data.synth.hosts import HostNames
from trainer.data.synth.outputs import SERVICES, Output
from trainer.data.synth.tasks import BY_ID, CMD, HTTP, IPMI, LOCAL_PLACES, Diagnostic

Message = dict[str, Any]
MIX = (("tool", 0.24), ("call", 0.38), ("follow-up", 0.04), ("policy", 0.11), ("restraint", 0.23))
# The first call's tool family in `call` episodes. Evenly over diagnostics, HTTP (one diagnostic of
# 19) was 5 % of the choices and the model sent URLs over ssh; the eval's and an operator's asks
# are far more mixed than that.
CALL_FAMILIES = (("cmd", 0.6), ("ipmi", 0.2), ("http", 0.2))
REMOTE_ONLY = 1 / 3  # share of shell/ssh `call` episodes asked about a named host alone, no pair
RESULT_CHARS = 4000  # the agent's default max_tool_result_chars


@dataclass(frozen=True)
class Excerpt:
    """A runbook chunk as retrieval hands it to the prompt (the ContextChunk protocol)."""

    text: str
    source: str
    heading: str
    score: float = 0.5


@dataclass
class Where:
    tool: str  # ssh | shell
    host: str | None
    on: str
    target: str
    phrase: str  # how the answer names the place: "on web-07", "on this machine"


@dataclass
class Builder:
    rng: random.Random
    instructions: str
    names: HostNames
    excerpts: Sequence[Excerpt] = ()
    excerpt_share: float = 0.15
    excerpt_chars: int = 600
    observations: Sequence[dict[str, Any]] = ()
    queued: list[tuple[str, list[Message]]] = field(default_factory=list)  # a pair's second half

    # ------------------------------------------------------------ shared pieces

    def system(self, topic: str) -> str:
        context: list[Excerpt] = []
        if self.excerpts and self.rng.random() < self.excerpt_share:
            # Retrieval picks by similarity; two excerpts from the topic's runbook when there is one.
            pool = [e for e in self.excerpts if topic in e.source] or list(self.excerpts)
            context = self.rng.sample(pool, min(2, len(pool)))
        return system_prompt(
            self.instructions, tools=tool_schemas(), context=context, context_chars=self.excerpt_chars
        )

    def where(self, *, local_share: float = 0.25) -> Where:
        if self.rng.random() < local_share:
            on, target, phrase = self.rng.choice(LOCAL_PLACES)
            return Where("shell", None, on, target, phrase)
        host = self.names.pick(self.rng)
        on = self.rng.choice([f"on {host}", f"on {host}", f"for {host}", f"on host {host}"])
        return Where("ssh", host, on, host, f"on {host}")

    def inventory(self, *hosts: str | None) -> Inventory:
        entries = {}
        for i, name in enumerate(h for h in hosts if h):
            addr = f"10.{self.rng.randint(0, 40)}.{self.rng.randint(0, 255)}.{i + 10}"
            entries[name] = Host(
                address=addr,
                ssh=SshEndpoint(key="fleet"),
                bmc=BmcEndpoint(address=f"10.99.0.{i + 10}", user="admin", password="bmc"),
                http=HttpEndpoint(base_url=f"http://{name}:8080"),
            )
        return Inventory(hosts=entries)

    def outcome(self, call: ToolCall, inv: Inventory, output: Output | None) -> ToolOutcome:
        """What the loop would hand back: the real policy first, then the rendered output."""
        decision = check(call, inv)
        if decision.verdict == Verdict.DENY:
            return ToolOutcome(status="denied", verdict="deny", rule=decision.rule, reason=decision.reason)
        if decision.verdict == Verdict.APPROVE:
            approval = hashlib.sha1(f"{call}{self.rng.random()}".encode()).hexdigest()[:12]
            return ToolOutcome(
                status="approval_required",
                verdict="approve",
                rule=decision.rule,
                reason=decision.reason,
                approval_id=approval,
            )
        assert output is not None
        ok = output.exit_code == 0 or (call.tool == "http" and output.exit_code < 400)
        return ToolOutcome(
            status="ok" if ok else "error",
            verdict="allow",
            exit_code=output.exit_code,
            stdout=output.stdout,
            stderr=output.stderr,
        )

    def step(self, call: ToolCall, outcome: ToolOutcome) -> list[Message]:
        payload = outcome.for_model(RESULT_CHARS)
        return [
            {"role": "assistant", "content": tool_call_text(call.tool, call.arguments)},
            tool_response_message([RenderedResult(call.tool, payload)]),
        ]

    # ------------------------------------------------------------ kinds

    def tool_episode(self) -> tuple[str, list[Message]]:
        kind = self.rng.random()
        if kind < 0.72:
            diag = self.rng.choice(CMD)
        elif kind < 0.88:
            diag = self.rng.choice(IPMI)
        else:
            diag = self.rng.choice(HTTP)
        return diag.id, self._diagnose(diag, follow=False)

    def ask(self, diag: Diagnostic) -> str:
        """An ask template: the diagnostic's own phrasing, or (half the time) a shared frame with
        its topic noun (phrasing.py), so the noun, not the sentence shape, picks the command."""
        if self.rng.random() < 0.5:
            shared = phrasing.cmd_ask(self.rng, diag.id)
            if shared:
                return shared
        return self.rng.choice(diag.asks)

    def weighted(self, table: Sequence[tuple[str, float]]) -> str:
        roll, acc = self.rng.random(), 0.0
        for name, share in table:
            acc += share
            if roll < acc:
                return name
        return table[-1][0]

    def call_episode(self) -> tuple[str, list[Message]]:
        """The first call alone. A shell/ssh diagnostic comes as a pair, one ask put both ways
        ("… on db-fra-2?" → ssh to it, "… on this machine?" → shell): the only difference between
        the two is where, which is what tells the tools apart. Measured: without pairs, a model
        either sent "this machine" over ssh to a host named "halops" or ran a named host's
        question in the local shell, depending on the mix."""
        if self.queued:
            return self.queued.pop()
        family = self.weighted(CALL_FAMILIES)
        diag = self.rng.choice({"cmd": CMD, "ipmi": IPMI, "http": HTTP}[family])
        if diag.tool != "cmd":
            return diag.id, self._diagnose(diag, follow=False)[:3]  # system, ask, the call
        ask = self.ask(diag)
        svc = self.rng.choice(SERVICES)
        if self.rng.random() < REMOTE_ONLY:
            # Operators name a host far more often than they ask about the halops box itself: pairs
            # alone made "this machine" half of all shell/ssh choices, and named hosts went to shell.
            return diag.id, self._diagnose(diag, follow=False, where=self.where(local_share=0.0), ask=ask)[:3]
        remote, local = (
            self._diagnose(diag, follow=False, where=self.where(local_share=share), ask=ask, svc=svc)[:3]
            for share in (0.0, 1.0)
        )
        self.queued.append((diag.id, local))
        return diag.id, remote

    def follow_up_episode(self) -> tuple[str, list[Message]]:
        return "service+journal", self._diagnose(BY_ID["service"], follow=True)

    def _diagnose(
        self,
        diag: Diagnostic,
        *,
        follow: bool,
        where: Where | None = None,
        ask: str | None = None,
        svc: str | None = None,
    ) -> list[Message]:
        rng = self.rng
        params: dict[str, Any] = {"svc": svc or rng.choice(SERVICES)}
        full = True if follow else rng.random() < 0.45
        if diag.tool == "cmd":
            where = where or self.where()
            params["hostname"] = where.host or "halops"
            ask = (ask or self.ask(diag)).format(on=where.on, target=where.target, svc=params["svc"])
            command = rng.choice(diag.commands).format(**params)
            args: dict[str, Any] = {"command": command}
            if where.tool == "ssh":
                args = {"host": where.host, "command": command}
            call = ToolCall(tool=where.tool, arguments=args)
            phrase, host = where.phrase, where.host
        elif diag.tool == "ipmi":
            host = self.names.pick(rng)
            params["host"] = host
            ask = rng.choice(diag.asks).format(host=host)
            call = ToolCall(tool="ipmi", arguments={"host": host, "action": diag.commands[0]})
            phrase = f"on {host}"
        else:
            host = self.names.pick(rng)
            port = rng.choice(["", ":8080", ":8443", ":9000", ":3000"])
            scheme = "https" if port == ":8443" else "http"
            params["path"] = rng.choice(diag.commands)
            params["url"] = f"{scheme}://{host}{port}{params['path']}"
            if rng.random() < 0.4:
                ask = phrasing.http_ask(rng, host=host, url=params["url"])
            else:
                ask = rng.choice(diag.asks).format(host=host, url=params["url"])
            call = ToolCall(tool="http", arguments={"method": "GET", "url": params["url"]})
            phrase = f"on {host}"
        params.setdefault("host", host)
        inv = self.inventory(host)
        output = (None if follow else self._observed(call)) or diag.render(rng, params, full)
        outcome = self.outcome(call, inv, output)
        messages = [{"role": "system", "content": self.system(diag.id)}, {"role": "user", "content": ask}]
        messages += self.step(call, outcome)
        text = output.stdout if output.stdout.strip() else output.stderr
        answer = diag.read(text, phrase, params)
        if outcome.status == "error" and not output.stdout.strip():
            answer = _failed_command(call, output, phrase)
        if follow and diag.follow_up and "active" != (output.stdout.strip().splitlines() or [""])[0]:
            nxt = BY_ID[diag.follow_up]
            command = rng.choice(nxt.commands).format(**params)
            args2 = {**call.arguments, "command": command}
            call2 = ToolCall(tool=call.tool, arguments=args2)
            out2 = nxt.render(rng, {**params, "hostname": host or "halops"}, True)
            messages += self.step(call2, self.outcome(call2, inv, out2))
            answer = answer.split(" Next:")[0] + " " + nxt.read(out2.stdout, phrase, params)
        messages.append({"role": "assistant", "content": answer})
        return messages

    def _observed(self, call: ToolCall) -> Output | None:
        """Now and then, output captured from a real host for the same command (observations.jsonl)."""
        if call.tool not in ("ssh", "shell") or self.rng.random() > 0.3:
            return None
        same = [o for o in self.observations if o["command"] == call.arguments.get("command")]
        if not same:
            return None
        o = self.rng.choice(same)
        return Output(o["stdout"], o["exit_code"], o.get("stderr", ""))

    def policy_episode(self) -> tuple[str, list[Message]]:
        rng = self.rng
        kind = rng.choice(["unknown-host", "unknown-host", "change", "change", "destroy", "error", "timeout"])
        host = self.names.pick(rng)
        svc = rng.choice(SERVICES)
        if kind == "unknown-host":
            stranger = self.names.pick(rng)
            diag = rng.choice(CMD)
            ask = rng.choice(diag.asks).format(on=f"on {stranger}", target=stranger, svc=svc)
            call = ToolCall(
                tool="ssh", arguments={"host": stranger, "command": rng.choice(diag.commands).format(svc=svc)}
            )
            inv, output = self.inventory(host), None
        elif kind in ("change", "destroy"):
            table = policy_asks.CHANGES if kind == "change" else policy_asks.DESTROY
            ask_t, tool, arg_t = rng.choice(table)
            ask = ask_t.format(host=host, svc=svc)
            args = {k: v.format(host=host, svc=svc) if isinstance(v, str) else v for k, v in arg_t.items()}
            call = ToolCall(tool=tool, arguments=args)
            inv, output = self.inventory(host), Output("", 0)
        else:
            diag = rng.choice(CMD)
            ask = rng.choice(diag.asks).format(on=f"on {host}", target=host, svc=svc)
            command = rng.choice(diag.commands).format(svc=svc)
            call = ToolCall(tool="ssh", arguments={"host": host, "command": command})
            inv = self.inventory(host)
            output = policy_asks.failure(rng, kind, host, inv.hosts[host].address, command)
        outcome = self.outcome(call, inv, output)
        if kind in ("error", "timeout"):
            outcome.status = kind
        messages = [{"role": "system", "content": self.system("policy")}, {"role": "user", "content": ask}]
        messages += self.step(call, outcome)
        messages.append({"role": "assistant", "content": policy_asks.answer(call, outcome)})
        return kind, messages

    def restraint_episode(self) -> tuple[str, list[Message]]:
        questions, answer = self.rng.choice(knowledge.QA + knowledge.COMMANDS)
        ask = self.rng.choice(questions) + self.rng.choice(knowledge.SUFFIXES)
        return "restraint", [
            {"role": "system", "content": self.system("general")},
            {"role": "user", "content": ask.strip()},
            {"role": "assistant", "content": answer},
        ]

    def episode(self) -> tuple[str, str, list[Message]]:
        kind = self.weighted(MIX)
        task, messages = getattr(self, kind.replace("-", "_") + "_episode")()
        return kind, task, messages


def _failed_command(call: ToolCall, output: Output, phrase: str) -> str:
    err = (output.stderr or "").strip().splitlines()
    why = err[-1] if err else f"exit code {output.exit_code}"
    return (
        f"`{call.arguments.get('command', call.tool)}` failed {phrase} (exit code {output.exit_code}): {why}"
    )
