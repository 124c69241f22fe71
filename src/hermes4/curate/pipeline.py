"""`hermes4 curate`: seed passages in, kept passages plus a removal report out."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hermes4.curate.dedup import semantic_dedup
from hermes4.curate.embed import Embedder
from hermes4.curate.passages import Passage, newest_first, text_hash
from hermes4.curate.quality import judge_passages


@dataclass
class CurateReport:
    input: int = 0
    empty: int = 0
    exact_duplicates: int = 0
    semantic_duplicates: int = 0
    quality_dropped: int = 0
    judge_errors: int = 0
    kept: int = 0
    threshold: float = 0.7
    embedder: str = ""
    index: str = "exact"
    seconds: dict[str, float] = field(default_factory=dict)
    # pairs either side of the threshold, so a person can judge whether it is set right
    removed_examples: list[dict[str, Any]] = field(default_factory=list)
    kept_examples: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def markdown(self) -> str:
        def pct(n: int) -> str:
            return f"{100 * n / self.input:.1f}%" if self.input else "0%"

        rows = [
            ("input passages", self.input, ""),
            ("empty", self.empty, pct(self.empty)),
            ("exact duplicates", self.exact_duplicates, pct(self.exact_duplicates)),
            (f"semantic duplicates (cosine >= {self.threshold})", self.semantic_duplicates, pct(self.semantic_duplicates)),
            ("dropped by the quality judge", self.quality_dropped, pct(self.quality_dropped)),
            ("judge errors (not kept)", self.judge_errors, pct(self.judge_errors)),
            ("kept", self.kept, pct(self.kept)),
        ]
        lines = [
            "# Curation report",
            "",
            f"Embedder `{self.embedder}`, index `{self.index}`, threshold {self.threshold}.",
            "",
            "| | passages | share |",
            "|---|---:|---:|",
            *[f"| {name} | {n} | {share} |" for name, n, share in rows],
        ]
        for title, examples in (
            ("Removed pairs closest to the threshold", self.removed_examples),
            ("Kept passages closest to the threshold", self.kept_examples),
        ):
            lines += ["", f"## {title}", ""]
            if not examples:
                lines.append("(none)")
            for ex in examples:
                lines.append(f"- cosine {ex['cosine']:.3f}: `{ex['id']}` vs `{ex['other_id']}`")
                lines.append(f"  - {ex['text'][:160]!r}")
                lines.append(f"  - {ex['other_text'][:160]!r}")
        return "\n".join(lines) + "\n"


def curate(
    passages: list[Passage],
    out_dir: str | Path,
    *,
    embedder: Embedder,
    threshold: float = 0.7,
    index: str = "exact",
    judge: Any | None = None,
    examples: int = 5,
) -> CurateReport:
    """Exact dedup, semantic dedup (newest kept), optional LLM quality filter; writes the out folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = CurateReport(input=len(passages), threshold=threshold, embedder=embedder.name, index=index)
    removed: list[dict[str, Any]] = []

    t0 = time.perf_counter()
    order = newest_first(passages)
    seen: dict[str, str] = {}
    candidates: list[int] = []
    for i in order:
        p = passages[i]
        if not p.text:
            report.empty += 1
            removed.append({**p.to_json(), "removed": "empty"})
            continue
        key = text_hash(p.text)
        if key in seen:
            report.exact_duplicates += 1
            removed.append({**p.to_json(), "removed": "exact_duplicate", "duplicate_of": seen[key]})
            continue
        seen[key] = p.id
        candidates.append(i)
    report.seconds["exact"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    emb = embedder.embed([passages[i].text for i in candidates])
    report.seconds["embed"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = semantic_dedup(emb, threshold, index=index)  # candidates are already newest first
    report.seconds["semantic"] = time.perf_counter() - t0
    survivors: list[int] = []
    for local, gid in enumerate(candidates):
        if result.keep[local]:
            survivors.append(gid)
            continue
        other = passages[candidates[result.duplicate_of[local]]]
        report.semantic_duplicates += 1
        removed.append(
            {**passages[gid].to_json(), "removed": "semantic_duplicate", "duplicate_of": other.id,
             "cosine": round(float(result.similarity[local]), 4)}
        )
    report.removed_examples, report.kept_examples = _threshold_examples(passages, candidates, result, emb, examples)

    verdicts = {}
    if judge is not None:
        t0 = time.perf_counter()
        judged = asyncio.run(judge_passages([passages[i].text for i in survivors], judge))
        verdicts = dict(zip(survivors, judged))
        report.seconds["judge"] = time.perf_counter() - t0

    with open(out / "passages.jsonl", "w", encoding="utf-8") as kept_file:
        for gid in survivors:
            record = passages[gid].to_json()
            verdict = verdicts.get(gid)
            if verdict is not None:
                record["quality"] = {"status": verdict.status, "reason": verdict.reason}
                if verdict.status != "keep":
                    report.quality_dropped += verdict.status == "drop"
                    report.judge_errors += verdict.status == "error"
                    removed.append({**record, "removed": f"quality_{verdict.status}"})
                    continue
            kept_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            report.kept += 1
    with open(out / "removed.jsonl", "w", encoding="utf-8") as removed_file:
        for record in removed:
            removed_file.write(json.dumps(record, ensure_ascii=False) + "\n")
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    (out / "report.md").write_text(report.markdown())
    return report


def _threshold_examples(passages, candidates, result, emb, k: int) -> tuple[list[dict], list[dict]]:
    """The k removed and k kept passages whose best match is closest to the threshold."""
    removed_local = np.flatnonzero(~result.keep)
    removed_local = removed_local[np.argsort(result.similarity[removed_local])][:k]
    removed = [
        _pair(passages[candidates[i]], passages[candidates[result.duplicate_of[i]]], result.similarity[i])
        for i in removed_local
    ]
    kept_local = np.flatnonzero(result.keep)
    kept_local = kept_local[np.argsort(-result.similarity[kept_local])][:k]
    kept = []
    kept_set = np.flatnonzero(result.keep)
    for i in kept_local:
        if result.similarity[i] <= 0:
            continue
        sims = emb[kept_set] @ emb[i]
        sims[kept_set == i] = -1
        j = kept_set[int(sims.argmax())]
        kept.append(_pair(passages[candidates[i]], passages[candidates[j]], float(sims.max())))
    return removed, kept


def _pair(a: Passage, b: Passage, cosine: float) -> dict[str, Any]:
    return {"id": a.id, "other_id": b.id, "cosine": round(float(cosine), 4), "text": a.text, "other_text": b.text}
