"""Link discovery at scale: `ijdp link` on a generated target of N entities (1M by default, about 100 MB).

The target is shaped like a Wikidata subset in N-Triples: each entity has an English label, a label in
another language, a type and an identifier; a handful of them are true matches (India, Japan, MeitY's
name) hidden among the rest. The run is `ijdp link` as a user runs it, in a child process, so that its
time and peak memory (ru_maxrss) are its own. Results go to bench/results/link-scale.json.

    python bench/link_scale.py [--entities 1000000] [--rounds 1]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = ("north", "south", "river", "valley", "institute", "council", "company", "society", "museum", "station",
         "bridge", "county", "lake", "harbour", "college", "school", "park", "street", "tower", "hill")
TRUE_MATCHES = {"Q668": "India", "Q17": "Japan", "Q999": "Ministry of Electronics and Information Technology"}
TRUE_TYPES = {"Q668": "Q6256", "Q17": "Q6256", "Q999": "Q43229"}


def generate(path: Path, entities: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    wd, label, kind, iso = ("http://www.wikidata.org/entity/", "http://www.w3.org/2000/01/rdf-schema#label",
                            "http://www.wikidata.org/prop/direct/P31", "http://www.wikidata.org/prop/direct/P298")
    planted = {entities * (n + 1) // (len(TRUE_MATCHES) + 1): item for n, item in enumerate(TRUE_MATCHES)}
    # About 100 bytes an entity, as in a label-and-type subset of Wikidata: every entity has an English label,
    # one in four a type, one in sixteen a label in another language and an identifier.
    with path.open("w", encoding="utf-8") as out:
        for i in range(entities):
            item = planted.get(i, f"Q{10_000_000 + i}")
            name = TRUE_MATCHES.get(item) or " ".join(rng.choice(WORDS) for _ in range(3)).title() + f" {i}"
            out.write(f'<{wd}{item}> <{label}> "{name}"@en .\n')
            if item in TRUE_TYPES or i % 4 == 0:
                out.write(f'<{wd}{item}> <{kind}> <{wd}{TRUE_TYPES.get(item) or rng.choice(("Q5", "Q515", "Q43229"))}> .\n')
            if i % 16 == 0:
                out.write(f'<{wd}{item}> <{label}> "{name}"@de .\n')
                out.write(f'<{wd}{item}> <{iso}> "X{i % 17576:05d}" .\n')
    return path.stat().st_size


def run_once(target: Path) -> dict:
    """One `ijdp link` in a child: wall time and the child's peak resident memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ijdp.cli", "link", "--target", str(target), "--out",
                           str(target.with_suffix(".candidates.tsv"))], capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ijdp link failed: {done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss    # KiB, the largest child so far
    lines = [line for line in target.with_suffix(".candidates.tsv").read_text().splitlines()
             if line and not line.startswith("#")][1:]
    return {"seconds": elapsed, "peak_rss_mib": max(peak, before) / 1024, "candidates": len(lines),
            "found": sorted({line.split("\t")[3].rsplit("/", 1)[-1] for line in lines} & set(TRUE_MATCHES))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--work", default=str(HERE / "work"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    target = work / f"link-target-{args.entities}.nt"
    if not target.exists():
        print(f"generating {args.entities} entities ...", file=sys.stderr)
        generate(target, args.entities)
    size = target.stat().st_size
    runs = [run_once(target) for _ in range(args.rounds)]
    result = {
        "entities": args.entities, "target_bytes": size, "rounds": args.rounds,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "entities_per_second": args.entities / statistics.median(r["seconds"] for r in runs),
        "candidates": runs[-1]["candidates"], "true_matches_found": runs[-1]["found"],
        "cpus": os.cpu_count(),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "link-scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if sorted(TRUE_MATCHES) != result["true_matches_found"]:
        raise SystemExit(f"the planted matches were not all found: {result['true_matches_found']}")


if __name__ == "__main__":
    main()
