"""`hermes4 pack`: pack sample lengths (one per line) into fixed-capacity rows and print the summary as JSON."""

from __future__ import annotations

import json
import time

import typer

from hermes4.cli._common import fail, read_text


def register(app: typer.Typer) -> None:
    @app.command()
    def pack(
        file: str = typer.Argument("-", help="Lengths, one integer per line; '-' or nothing reads stdin."),
        capacity: int = typer.Option(..., "--capacity", help="Tokens per packed row, e.g. 16384."),
        algo: str = typer.Option("bfd", "--algo", help="bfd (global best-fit decreasing) or first-fit (order-preserving)."),
        seed: int = typer.Option(0, "--seed", help="Seed for shuffling the bins after BFD packing (first-fit keeps its order)."),
    ) -> None:
        """Print {"samples", "bins", "lower_bound", "efficiency", "seconds"} for packing the given lengths."""
        import numpy as np

        from hermes4.train.packing import ALGORITHMS, PackingError
        from hermes4.train.packing import pack as pack_lengths

        if algo not in ALGORITHMS:
            raise fail(f"--algo: unknown algorithm {algo!r}; allowed: {', '.join(ALGORITHMS)}")
        if capacity < 1:
            raise fail(f"--capacity: must be a positive integer, got {capacity}")
        text, name = read_text(file)
        lengths, line_numbers = _parse_lengths(text, name)
        try:
            start = time.perf_counter()
            packing = pack_lengths(np.asarray(lengths, dtype=np.int64), capacity, algo=algo, seed=seed)
            seconds = time.perf_counter() - start
        except PackingError as exc:
            # Name the input line rather than the index into the parsed lengths.
            message = str(exc)
            if message.startswith("lengths["):
                index = int(message[len("lengths[") : message.index("]")])
                message = f"line {line_numbers[index]}: {message[message.index(']') + 3 :]}"
            raise fail(f"{name}: {message}") from None
        print(json.dumps(packing.summary(round(seconds, 6))))


def _parse_lengths(text: str, name: str) -> tuple[list[int], list[int]]:
    """Integers from non-blank lines, with each one's 1-based line number."""
    lines = text.splitlines()
    try:  # fast path: every line a plain integer
        lengths = [int(line) for line in lines]
        return lengths, list(range(1, len(lines) + 1))
    except ValueError:
        pass
    lengths, numbers = [], []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            lengths.append(int(stripped))
        except ValueError:
            raise fail(f"{name}: line {number}: expected one integer length, got {stripped[:40]!r}") from None
        numbers.append(number)
    return lengths, numbers
