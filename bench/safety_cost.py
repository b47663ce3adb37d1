"""What the safety checks cost: reading each request's tokens, against running the query.

For every example query (and for three hostile bodies of 100 KB to 1 MB), the
median time of structure.analyse (the parse-based decisions: form, SERVICE,
LOAD, FROM, depth) in this process, next to the median time pyoxigraph takes
to run the same query on the built store. Bounded: --rounds runs of each.
Writes bench/results/safety-cost.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "server"))


def median_ms(function, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def drain(results) -> None:
    if not isinstance(results, bool) and hasattr(results, "__iter__"):
        for _ in results:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--dist", default="dist")
    parser.add_argument("--out", default=str(HERE / "results" / "safety-cost.md"))
    args = parser.parse_args()

    from ijdp.examples import examples
    from ijdp.sparql import execute
    from ijdp.store import open_built
    from ijdp.structure import LexicalError, analyse

    store = open_built(args.dist)
    rows, ratios = [], []
    for example in examples():
        check = median_ms(lambda: analyse(example.text), args.rounds)
        run = median_ms(lambda: drain(execute(store, example.text)), max(5, args.rounds // 5))
        ratios.append(check / run)
        rows.append(f"| {example.name} | {len(example.text)} | {check * 1000:.0f} | {run * 1000:.0f} | {check / run:.3f} |")

    def hostile(text):
        def read():
            try:
                analyse(text)
            except LexicalError:
                pass
        return read
    hostile_bodies = {
        "1 MB of keywords": ("SELECT " + "SERVICE LOAD FROM " * 60000)[:1_000_000],
        "1 MB of nesting": "SELECT * WHERE " + "{" * 500_000 + "}" * 499_990,
        "100 KB of operators": "SELECT * WHERE { FILTER(1" + "+1" * 50_000 + ") }",
    }
    hostile_rows = [f"| {name} | {len(text)} | {median_ms(hostile(text), 5):.0f} |" for name, text in hostile_bodies.items()]

    lines = [
        "# What the safety checks cost", "",
        f"`python bench/safety_cost.py --rounds {args.rounds}`; medians in µs, in one process, on the built store.", "",
        "| query | chars | check µs | run µs | check / run |", "|---|---:|---:|---:|---:|", *rows, "",
        f"Median check / run: {statistics.median(ratios):.3f}; worst {max(ratios):.3f}.", "",
        "Hostile bodies (the check is linear: its cost per byte stays the same as the body grows):", "",
        "| body | chars | check ms |", "|---|---:|---:|", *hostile_rows, "",
    ]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
