"""Extract on the real Claude Code sessions in ../shared/fixtures/claude-projects (read in place).

Expected numbers were computed independently of the extractor, with jq over the raw files:
distinct `message.id` per file (merged assistant turns), assistant records per file, tool_use ids
that have a tool_result with the same id (pairs), `isCompactSummary` records, `toolUseResult.agentId`
links. None of these sessions has a rewind, so the per-file counts equal the spine's.
"""

from __future__ import annotations

import pytest

from tests.data.helpers import FIXTURES
from trainer.data.extract import discover, extract

pytestmark = pytest.mark.unit

# session id: (assistant records, merged assistant turns, tool pairs, thinking blocks)
SESSIONS = {
    "edge_cases": (4, 4, 1, 0),
    "representative_messages": (5, 5, 2, 0),
    "session_b": (1, 1, 0, 0),
    "todowrite_examples": (6, 6, 3, 0),
    "258c7280-ae70-4798-800f-63464d01a85d": (299, 152, 186, 19),
    "4d5611e5-241a-462a-8d15-5122611a9569": (254, 139, 150, 14),
    "8463c716-a2ea-4c14-9efa-87158ebd9f20": (278, 143, 177, 19),
    "ae4a77f8-aedd-4bc1-888f-c94edc91af04": (408, 217, 242, 6),
    "fa812bfe-b295-4cca-9c2f-fdf01028cb46": (314, 157, 197, 11),
    "short": (5, 1, 2, 1),
    "subagent": (28, 12, 16, 4),
    "tool_heavy": (9, 4, 6, 1),
}
# subagent id: (assistant records, merged turns, tool pairs, Task tool_use_id or None)
SUBAGENTS = {
    "258c7280-ae70-4798-800f-63464d01a85d/agent-a881341": (5, 3, 2, "toolu_01VmaERAwhb19LGUwu9GenaK"),
    "4d5611e5-241a-462a-8d15-5122611a9569/agent-a2898e3": (40, 12, 33, "toolu_017pLRuPHYTX5t99EnLyV53m"),
    "6c2214d7-b87e-4432-8e41-22ba294ea584/agent-afc096d": (66, 18, 48, None),  # its session file is absent
    "8463c716-a2ea-4c14-9efa-87158ebd9f20/agent-a7be2f0": (32, 13, 19, "toolu_017SvvKc8KLbhGMG3tXkf21Z"),
    "ae4a77f8-aedd-4bc1-888f-c94edc91af04/agent-aac57f5": (15, 3, 12, "toolu_01Hf8v1Za7y4af8VUwSR4CXU"),
    "fa812bfe-b295-4cca-9c2f-fdf01028cb46/agent-a93ccab": (36, 11, 25, "toolu_01Y64XEaRvUYinzv9rW9qZXd"),
    "fa812bfe-b295-4cca-9c2f-fdf01028cb46/agent-aa84377": (30, 9, 21, "toolu_013mmyY3eDBg4Ji6oAszYt6p"),
}
COMPACTED = {
    "258c7280-ae70-4798-800f-63464d01a85d",
    "4d5611e5-241a-462a-8d15-5122611a9569",
    "8463c716-a2ea-4c14-9efa-87158ebd9f20",
    "ae4a77f8-aedd-4bc1-888f-c94edc91af04",
    "fa812bfe-b295-4cca-9c2f-fdf01028cb46",
}


@pytest.fixture(scope="module")
def extracted():
    assert FIXTURES.is_dir(), f"fixtures missing at {FIXTURES}"
    return extract(discover([FIXTURES]))


def test_discovery_classifies_every_file():
    kinds: dict[str, int] = {}
    for f in discover([FIXTURES]):
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    assert kinds == {"session": 12, "agent": 7, "compaction-agent": 5}


def test_session_and_subagent_counts(extracted):
    assert sorted(s["id"] for s in extracted.sessions) == sorted(SESSIONS)
    assert sorted(s["id"] for s in extracted.subagents) == sorted(SUBAGENTS)
    st = extracted.stats
    assert (st["sessions"], st["subagents"]) == (12, 7)
    assert (st["subagents_linked"], st["subagents_unlinked"]) == (6, 1)
    assert st["compaction_agents_excluded"] == 5
    assert st["subagents_without_session"] == 1


@pytest.mark.parametrize("sid", sorted(SESSIONS))
def test_merged_turns_and_tool_pairs_per_session(extracted, sid):
    conv = next(s for s in extracted.sessions if s["id"] == sid)
    records, turns, pairs, thinking = SESSIONS[sid]
    st = conv["stats"]
    assert st.get("assistant_records", 0) == records
    assert sum(1 for t in conv["turns"] if t["role"] == "assistant") == turns
    assert st.get("merged_records", 0) == records - turns
    assert sum(1 for t in conv["turns"] if t["role"] == "tool") == pairs == st.get("tool_pairs", 0)
    assert st.get("thinking_blocks", 0) == thinking
    assert st.get("abandoned_records", 0) == 0


@pytest.mark.parametrize("aid", sorted(SUBAGENTS))
def test_subagents_are_linked_to_their_task_call(extracted, aid):
    sub = next(s for s in extracted.subagents if s["id"] == aid)
    records, turns, pairs, task_id = SUBAGENTS[aid]
    assert sub["stats"]["assistant_records"] == records
    assert sum(1 for t in sub["turns"] if t["role"] == "assistant") == turns
    assert sub["stats"]["tool_pairs"] == pairs
    assert (sub["parent_task"] or {}).get("tool_use_id") == task_id
    if task_id:
        parent = next(s for s in extracted.sessions if s["id"] == sub["session_id"])
        assert aid in parent["subagents"]
        call = next(
            c
            for t in parent["turns"]
            if t["role"] == "assistant"
            for c in t["tool_calls"]
            if c["id"] == task_id
        )
        assert call["name"] == "Task"
        assert sub["turns"][0]["text"] == call["input"]["prompt"].strip()


def test_compaction_summaries_are_context_never_requests(extracted):
    assert extracted.stats["thread:compact_summaries_excluded"] == 5
    assert extracted.stats["thread:compact_boundaries"] == 5
    for conv in extracted.sessions:
        ctx = [t for t in conv["turns"] if t["role"] == "context" and t["kind"] == "compact_summary"]
        assert len(ctx) == (1 if conv["id"] in COMPACTED else 0)
        for t in conv["turns"]:
            if t["role"] == "user":
                assert not t["text"].startswith(
                    "This session is being continued from a previous conversation"
                )


def test_work_before_and_after_compaction_is_kept(extracted):
    # 4d5611e5's boundary names a logicalParentUuid that is not in the file: the pre-compaction
    # history still hangs on the record written before the boundary.
    conv = next(s for s in extracted.sessions if s["id"] == "4d5611e5-241a-462a-8d15-5122611a9569")
    kinds = [t["role"] if t["role"] != "context" else t["kind"] for t in conv["turns"]]
    cut = kinds.index("compact_summary")
    assert kinds[:cut].count("assistant") > 50 and kinds[cut:].count("assistant") > 10
    assert conv["stats"]["dangling_parents"] == 1


def test_split_turn_with_parallel_calls_merges_and_pairs(extracted):
    # short.jsonl: one response written as 5 records; its 2 tool calls fork the tree.
    conv = next(s for s in extracted.sessions if s["id"] == "short")
    roles = [t.get("kind", t["role"]) for t in conv["turns"]]
    assert roles == ["user", "assistant", "tool", "tool", "interrupt"]  # the user stopped both calls
    calls = conv["turns"][1]["tool_calls"]
    assert [t["tool_use_id"] for t in conv["turns"][2:4]] == [c["id"] for c in calls]
    assert all(t["is_error"] for t in conv["turns"][2:4])


def test_malformed_lines_are_counted_by_reason(extracted):
    # edge_cases.jsonl: two user records without message content, "massive error", 42, [1],
    # and {"silly": "this"} (no record type).
    assert extracted.bad.counts == {
        "user record without message content": 2,
        "not an object": 3,
        "no record type": 1,
    }
    conv = next(s for s in extracted.sessions if s["id"] == "edge_cases")
    assert conv["stats"]["unanswered_tool_calls"] == 2
    assert [t["text"][:20] for t in conv["turns"] if t["role"] == "user"] == [
        "Here's a message wit",
        "Let's test a very lo",
        "--verbose --output /",  # the arguments of a custom slash command are the request
        "Testing special char",
        "wow error",
    ]


def test_commands_meta_and_interruptions_are_not_requests(extracted):
    st = extracted.stats
    # 8 slash-command records: 6 built-in or without arguments, 2 custom ones with arguments
    # (edge_cases' /test-command, subagent.jsonl's /handgemacht:create-beads).
    assert st["thread:user_command_skipped"] == 6
    assert st["thread:user_command_requests"] == 2
    sub = next(s for s in extracted.sessions if s["id"] == "subagent")
    assert sub["turns"][0]["text"].startswith("websearch to learn how to fastest setup credo")
    assert st["thread:user_meta_skipped"] == 4
    assert st["thread:user_interrupt_skipped"] == 5
    assert st["thread:user_notification_skipped"] == 5
    for conv in extracted.sessions + extracted.subagents:
        for t in conv["turns"]:
            if t["role"] == "user":
                assert not t["text"].startswith(
                    ("<command-", "<local-command", "<system-reminder>", "[Request")
                )
