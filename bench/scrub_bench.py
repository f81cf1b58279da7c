"""Scrubber benchmark: throughput against detect-secrets on the same text, recall, false positives.

    flock /tmp/halops-cpu.lock .venv/bin/python bench/scrub_bench.py            # ~50 MB, ~5 min
    .venv/bin/python bench/scrub_bench.py --mb 5 --ds-mb 1                       # quick look

Corpus: generated ops output (journal lines, ps/df/docker/kubectl output, JSON logs, BMC and GPU
tables) with a secret every 2,000 lines; "config-heavy" adds ~9 % key=value lines that look like
credentials but are not (InvocationID=..., password_expiry_days=..., token_ttl=...).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safety.scrub import _rules_db, prefilter_available, scrub  # noqa: E402
from tests.safety import corpus as C  # noqa: E402

SECRETS = [
    "export AWS_ACCESS_KEY_ID=AKIAQ4EXAMPLEKEY7ZZZ",
    "GITHUB_TOKEN=ghp_R2d2C3poBB8Luke1Leia2Han3Chewie4Yoda5",
    'level=info msg="connecting" dsn="postgres://app:Sup3r-S3cret@db1:5432/app"',
    "curl -H 'Authorization: Bearer mF_9.B5f-4.1JqMx8zRt2Ln' http://web1:8080/api",
    "ipmitool -I lanplus -H 10.0.1.5 -U admin -P Bmc!Pass99 sel list",
    '{"level":"debug","msg":"config","db_password":"Tr0ub4dor&3x"}',
]
KNOWN = ["Bmc!Pass99", "node-exporter-Secret-42"]


def mbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6


def time_halops(text: str, hs: bool, runs: int) -> tuple[float, int]:
    best = float("inf")
    found = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = scrub(text, KNOWN, use_hyperscan=hs)
        best = min(best, time.perf_counter() - t0)
        found = out.redacted
    return mbps(len(text.encode()), best), found


def time_detect_secrets(text: str) -> tuple[float, int]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False, encoding="utf-8") as f:
        f.write(text)
    try:
        with default_settings():
            collection = SecretsCollection()
            t0 = time.perf_counter()
            collection.scan_file(f.name)
            dt = time.perf_counter() - t0
        return mbps(len(text.encode()), dt), len(list(collection))
    finally:
        os.unlink(f.name)


def quality(per_rule: int) -> tuple[float, int, int, float, int]:
    from tests.safety.gitleaks_oracle import GITLEAKS_TOML, samples

    if not GITLEAKS_TOML.exists():
        return float("nan"), 0, 0, float("nan"), 0
    got = samples(per_rule=per_rule, seed=2026)
    hits = sum(s.secret not in scrub(s.text).text for s in got)
    rules = len({s.rule for s in got})
    lines = C.benign_lines(50_000, seed=99)
    altered = sum(scrub(line).text != line for line in lines)
    return hits / len(got), len(got), rules, altered / len(lines), len(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=50.0, help="corpus size in MB")
    ap.add_argument("--ds-mb", type=float, default=None, help="MB given to detect-secrets (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="halops runs, best taken")
    ap.add_argument("--per-rule", type=int, default=20, help="gitleaks samples per rule")
    args = ap.parse_args()

    size = int(args.mb * 1e6)
    ops = C.corpus(size, seed=7, secrets=SECRETS, every=2000, generators=C.OPS_GENERATORS)
    heavy = C.corpus(size, seed=8, secrets=SECRETS, every=2000, generators=C.GENERATORS)
    t0 = time.perf_counter()
    _rules_db()
    compile_s = time.perf_counter() - t0
    print(
        f"corpus: ops {len(ops) / 1e6:.1f} MB, {ops.count(chr(10))} lines; "
        f"config-heavy {len(heavy) / 1e6:.1f} MB"
    )
    print(
        f"hyperscan prefilter: {'yes' if prefilter_available() else 'no'} (compile {compile_s:.2f} s, once)"
    )
    if prefilter_available():
        speed, found = time_halops(ops, True, args.runs)
        print(f"halops scrub, ops:           {speed:7.1f} MB/s  ({found} redactions)")
        speed, found = time_halops(heavy, True, args.runs)
        print(f"halops scrub, config-heavy:  {speed:7.1f} MB/s  ({found} redactions)")
    fallback = ops[: min(len(ops), 5_000_000)]
    speed, found = time_halops(fallback, False, 1)
    print(f"halops scrub, pure-Python fallback ({len(fallback) / 1e6:.0f} MB of ops): {speed:7.2f} MB/s")
    ds_text = ops if args.ds_mb is None else ops[: int(args.ds_mb * 1e6)]
    speed, found = time_detect_secrets(ds_text)
    print(
        f"detect-secrets 1.5 scan_file ({len(ds_text) / 1e6:.0f} MB of ops): {speed:7.3f} MB/s  "
        f"({found} distinct secrets)"
    )
    recall, n, rules, benign, lines = quality(args.per_rule)
    print(f"recall on gitleaks-generated samples: {recall:.1%} of {n} samples from {rules} rules")
    print(f"benign ops lines altered: {benign:.2%} of {lines}")


if __name__ == "__main__":
    main()
