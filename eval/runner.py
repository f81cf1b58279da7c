"""Scoring a model server on the eval cases, with the agent's own system prompt and tools."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from eval.cases import EvalCase
from eval.errors import EvalError
from eval.report import CaseResult, EvalReport
from eval.scoring import call_validity
from halops.calls import tool_schemas
from halops.errors import LLMError, LLMUnavailableError
from halops.llm.client import LLMClient
from halops.parser import STOP, parse_reply
from halops.prompt import system_prompt
from safety.scrub import scrub


def run_eval(
    client: LLMClient,
    cases: Sequence[EvalCase],
    *,
    instructions: str,
    model: str,
    cases_file: str,
    max_tokens: int,
    case_timeout_s: float,
    on_case: Callable[[CaseResult], None] | None = None,
    grammar: str | None = None,
) -> EvalReport:
    """Every case once, greedy (temperature 0), so two runs of one model score the same.

    No retrieval: runbook context depends on what was ingested, and the gate compares models, not
    stores. A dead server aborts the whole run (EvalError): a half-scored report must not be
    compared with a whole one. A timeout or malformed response scores that case 0.

    `grammar` (GBNF, halops.grammar) is sent with every case, as the agent sends it on its tool
    rounds, so the eval scores the model as the agent runs it. Every emitted call is also checked
    against the tool schemas (`CaseResult.calls`/`valid_calls`), whatever the case expected.
    """
    system = system_prompt(instructions, tools=tool_schemas())
    report = EvalReport(model=model, cases_file=cases_file, grammar=grammar is not None)
    for case in cases:
        started = time.monotonic()
        try:
            reply = client.chat(
                case.messages(system),
                max_tokens=max_tokens,
                temperature=0.0,
                stop=STOP,
                timeout_s=case_timeout_s,
                grammar=grammar,
            ).content
        except LLMUnavailableError as exc:
            raise EvalError(f"eval of {model} stopped at case {case.id}: {exc}") from exc
        except LLMError as exc:  # timeout, HTTP error, malformed body: this case only
            result = CaseResult(
                case.id, case.category, 0.0, "", seconds=time.monotonic() - started, error=str(exc)
            )
        else:
            parsed = parse_reply(reply)
            score = case.score(parsed)
            validity = call_validity(parsed)
            result = CaseResult(
                case.id,
                case.category,
                score.value,
                scrub(reply).text,  # reports are files people share: no credential leaves unscrubbed
                score.notes + validity.problems,
                round(time.monotonic() - started, 3),
                calls=validity.emitted,
                valid_calls=validity.valid,
            )
        report.results.append(result)
        if on_case:
            on_case(result)
    return report
