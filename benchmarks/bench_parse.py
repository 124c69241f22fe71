"""Streaming parse cost: hermes4's incremental parser vs re-parsing the whole buffer at every token.

Outputs of ~2k, ~8k and ~32k tokens (long reasoning, then 8 tool calls with code arguments) are streamed one token
at a time (a regex tokenizer, ~3.5 characters per token). The peer is the approach today's servers take (vLLM's
hermes tool parser with a `<think>` reasoning parser): append the delta to the whole text, run the regexes over
all of it, partially parse the open call's JSON, and diff against what was already sent.

    .venv/bin/python benchmarks/bench_parse.py [--sizes 2000,8000,32000] [--repeats 3]

Times are CPU seconds of this process (`time.process_time`): both sides are single-threaded Python, and on a
shared machine wall time mostly measures the neighbours. It then feeds adversarial inputs (long whitespace runs, runs of `<`, tag prefixes, long escaped strings, deep
nesting, a broken call that must be skimmed) one character at a time at two sizes: linear work shows as the
same microseconds per character at both.

Last, batch `parse()` on adversarial whole outputs (`"<tool_call>" * 40000`, a million `<`, 20k well-formed calls)
beside the same text streamed in 16-character chunks: batch is the same state machine fed everything at once, so
its cost must match streaming's (ratio near 1), and the half-size row shows it is linear.

    .venv/bin/python benchmarks/bench_parse.py --only-batch
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time

import json_repair

from hermes4.parse import StreamParser, ToolCallEnded, parse

TOKEN = re.compile(r" ?[A-Za-z0-9_]+| ?[^A-Za-z0-9_\s]+|\s+")
WORDS = (
    "the a we need to check whether value list index call tool result first then so because maybe compute "
    "weather city temperature file path read write function returns error case edge test"
).split()


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def make_output(target_tokens: int, seed: int = 0) -> str:
    """Reasoning (~3/4 of the tokens, with code and `<` in it), then 8 tool calls whose arguments hold code."""
    rng = random.Random(seed)
    calls_budget = target_tokens // 4
    per_call = calls_budget // 8
    calls = []
    for i in range(8):
        lines = []
        while len(tokens("\n".join(lines))) < per_call:
            lines.append(f"    x{i} = compute({rng.randint(0, 99)}, '{rng.choice(WORDS)}') if a < b else {{'k': [1, 2]}}")
        args = {"path": f"src/module_{i}.py", "code": "def f():\n" + "\n".join(lines), "overwrite": i % 2 == 0}
        calls.append("<tool_call>\n" + json.dumps({"name": "write_file", "arguments": args}) + "\n</tool_call>")
    tail = "\n".join(calls)
    reasoning: list[str] = []
    budget = target_tokens - len(tokens(tail))
    count = 0
    while count < budget:
        sentence = " ".join(rng.choice(WORDS) for _ in range(12)) + (". If a < b then {x}.\n" if rng.random() < 0.2 else ".\n")
        reasoning.append(sentence)
        count += len(tokens(sentence))
    return "<think>\n" + "".join(reasoning) + "</think>\n" + tail


class ReparseEveryStep:
    """The peer: keep the whole text, and at every delta re-run regexes over it and re-parse the open call."""

    CALL = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*)", re.DOTALL)

    def __init__(self) -> None:
        self.text = ""
        self.sent_reasoning = 0
        self.sent_content = 0
        self.sent_args: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.finished: dict[int, dict] = {}

    def feed(self, delta: str) -> list[tuple]:
        self.text += delta
        text = self.text
        events: list[tuple] = []
        stripped = text.lstrip()
        if stripped.startswith("<think>"):
            start = text.index("<think>") + len("<think>")
            end = text.find("</think>")
            reasoning = text[start:end] if end >= 0 else text[start:]
            rest = text[end + len("</think>") :] if end >= 0 else ""
        else:
            reasoning, rest = "", text
        if len(reasoning) > self.sent_reasoning:
            events.append(("reasoning", reasoning[self.sent_reasoning :]))
            self.sent_reasoning = len(reasoning)
        content = rest.split("<tool_call>", 1)[0]
        if len(content) > self.sent_content:
            events.append(("content", content[self.sent_content :]))
            self.sent_content = len(content)
        for index, m in enumerate(self.CALL.finditer(rest)):
            if index in self.finished:
                continue
            closed = m.group(1) is not None
            body = (m.group(1) if closed else m.group(2)).strip()
            if not body:
                continue
            try:
                obj = json.loads(body) if closed else json_repair.loads(body)  # partial JSON parse of the open call
            except Exception:  # noqa: BLE001, S112 - a partial parse that fails just waits for more text
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
                continue
            if index not in self.names:
                self.names[index] = obj["name"]
                events.append(("call", index, obj["name"]))
            args = obj.get("arguments") if isinstance(obj.get("arguments"), dict) else {}
            args_json = json.dumps(args)
            if not closed:
                args_json = args_json.rstrip('}]"')  # withhold what the partial parse closed for us
            sent = self.sent_args.get(index, "")
            if args_json.startswith(sent) and len(args_json) > len(sent):
                events.append(("args", index, args_json[len(sent) :]))
                self.sent_args[index] = args_json
            if closed:
                self.finished[index] = {"name": obj["name"], "arguments": args}
        return events


def time_ours(pieces: list[str]) -> tuple[float, list]:
    start = time.process_time()
    parser = StreamParser()
    ended = []
    for piece in pieces:
        for event in parser.feed(piece):
            if isinstance(event, ToolCallEnded):
                ended.append(event)
    _, result = parser.finish()
    elapsed = time.process_time() - start
    return elapsed, [(c.name, c.arguments) for c in result.tool_calls]


def time_peer(pieces: list[str]) -> tuple[float, list]:
    start = time.process_time()
    peer = ReparseEveryStep()
    for piece in pieces:
        peer.feed(piece)
    elapsed = time.process_time() - start
    return elapsed, [(c["name"], c["arguments"]) for _, c in sorted(peer.finished.items())]


ADVERSARIAL = {
    "whitespace run": lambda n: "x" + " " * n + "y",
    "'<' run in content": lambda n: "<" * n,
    "tag prefixes": lambda n: "<tool_ca<thi</tool_cal" * (n // 22),
    "one long string argument": lambda n: '<tool_call>{"name": "f", "arguments": {"s": "' + 'a\\"}{' * (n // 6) + '"}}</tool_call>',
    "deep nesting in a call": lambda n: '<tool_call>{"name": "f", "arguments": {"a": ' + "[" * (n // 2) + "]" * (n // 2) + "}}</tool_call>",
    "skimmed broken call": lambda n: "<tool_call>{'a': b, " + "x, '}' " * (n // 8) + "</tool_call>",
}


def adversarial(sizes: tuple[int, int]) -> None:
    """Inputs built to make a parser rescan; fed one character at a time. Linear means equal us/char at both sizes."""
    print(f"\nadversarial inputs, ours only, fed 1 character at a time (us/char at {sizes[0]} and {sizes[1]} chars)")
    for name, build in ADVERSARIAL.items():
        rates = []
        for n in sizes:
            text = build(n)
            start = time.process_time()
            parser = StreamParser(tools_in_reasoning=True)
            for ch in text:
                parser.feed(ch)
            parser.finish()
            rates.append((time.process_time() - start) / len(text) * 1e6)
        print(f"  {name:<26} {rates[0]:>6.2f} {rates[1]:>6.2f}   growth x{rates[1] / rates[0]:.2f}")


WELL_FORMED_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n</tool_call>\n'
BATCH_ADVERSARIAL = {
    '"<tool_call>" * 40000': lambda scale: "<tool_call>" * int(40_000 * scale),
    '"<" * 1_000_000': lambda scale: "<" * int(1_000_000 * scale),
    "20k well-formed calls": lambda scale: WELL_FORMED_CALL * int(20_000 * scale),
}


def batch_vs_stream() -> None:
    """Whole adversarial outputs parsed in one call vs streamed in 16-char chunks, at half and full size."""
    print("\nbatch parse() vs streaming (16-char chunks), CPU seconds")
    print(f"  {'input':<24} {'chars':>9} | {'batch s':>8} | {'stream s':>8} | {'batch/stream':>12}")
    for name, build in BATCH_ADVERSARIAL.items():
        for scale in (0.5, 1.0):
            text = build(scale)
            start = time.process_time()
            batch = parse(text)
            batch_s = time.process_time() - start
            start = time.process_time()
            parser = StreamParser()
            for i in range(0, len(text), 16):
                parser.feed(text[i : i + 16])
            streamed = parser.finish()[1]
            stream_s = time.process_time() - start
            assert streamed == batch, "stream must equal batch"
            print(f"  {name:<24} {len(text):>9} | {batch_s:>8.2f} | {stream_s:>8.2f} | {batch_s / stream_s:>11.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,8000,32000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only-batch", action="store_true", help="run only the batch-vs-streaming adversarial section")
    args = ap.parse_args()
    if args.only_batch:
        batch_vs_stream()
        return
    print(f"{'tokens':>7} {'chars':>7} | {'ours s':>8} {'us/tok':>7} | {'reparse s':>9} {'us/tok':>8} | {'ratio':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        text = make_output(size)
        pieces = tokens(text)
        assert "".join(pieces) == text
        expected = [(c.name, c.arguments) for c in parse(text).tool_calls]
        assert len(expected) == 8
        ours = []
        for _ in range(max(5, args.repeats)):  # ours is cheap: more repeats, a steadier minimum
            seconds, calls = time_ours(pieces)
            assert calls == expected
            ours.append(seconds)
        peer_repeats = args.repeats if size <= 8000 else 1
        peer = []
        for _ in range(peer_repeats):
            seconds, calls = time_peer(pieces)
            assert calls == expected, "the re-parsing peer must read the same calls"
            peer.append(seconds)
        best_ours, best_peer = min(ours), min(peer)
        n = len(pieces)
        print(
            f"{n:>7} {len(text):>7} | {best_ours:>8.4f} {best_ours / n * 1e6:>7.2f} | {best_peer:>9.3f} "
            f"{best_peer / n * 1e6:>8.1f} | {best_peer / best_ours:>6.1f}x"
        )
    adversarial((25_000, 100_000))
    batch_vs_stream()


if __name__ == "__main__":
    main()
