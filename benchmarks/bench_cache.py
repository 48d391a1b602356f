"""The embedding cache at corpus scale: this tree against the reference (commit 416e3e8), side by side.

One run writes a synthetic BEIR folder (200,000 documents of 12 random words from a 5,000-word
vocabulary, 1,000 queries of 6, 3 judged documents per query), then runs the same worker twice in
fresh subprocesses: once on the reference's package (extracted with ``git archive 416e3e8``) and
once on this tree. Each worker

- loads the corpus with ``load_beir`` and hashes every text with ``store.text_key``;
- stores 201,000 × 384 float32 vectors with ``put_many`` in writes of 2048 (as ``embed_texts`` does);
- measures the cache's bytes on disk against the raw float32 bytes;
- reads every vector back from the page cache (best of 3): the store's own read into one matrix,
  and a whole warm ``embed_texts`` call (hashing, lookup, matrix).

Every phase is timed twice: wall clock and the process's CPU time (``time.process_time``, all
threads). On a shared machine the wall clock also counts the time other processes held the cores;
the CPU time is what the code costs, and the two agree on a quiet machine.

Run: .venv/bin/python benchmarks/bench_cache.py [--docs N]   (needs git and about 1.5 GB in the temp folder;
``--docs 20000`` is a quick run)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import REPO, Clock, extract_package, load_text, print_markdown

REFERENCE = "416e3e8"
DOCS, QUERIES, DIM = 200_000, 1_000, 384


def write_beir(folder: Path, docs: int = DOCS, queries: int = QUERIES) -> None:
    """The issue's synthetic recipe."""
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(5000)]
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for i in range(docs):
            out.write(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(rng.choices(vocabulary, k=12))}) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out, \
            (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for i in range(queries):
            out.write(json.dumps({"_id": f"q{i}", "text": " ".join(rng.choices(vocabulary, k=6))}) + "\n")
            for doc in rng.sample(range(docs), 3):
                qrels.write(f"q{i}\td{doc}\t1\n")


def worker(beir: Path, cache: Path) -> dict[str, float]:
    """Everything measured for the package on ``sys.path`` (run in a fresh process)."""
    import numpy as np

    from pytest_mrlcheck import embed
    from pytest_mrlcheck.data import load_beir
    from pytest_mrlcheck.spec import DataSpec
    from pytest_mrlcheck.store import SqliteStore, text_key

    spec = DataSpec(path=beir, format="beir", columns={}, header=False, split="test")
    times: dict[str, float] = {}
    clock = Clock(times)
    with clock("load"):
        data = load_beir(spec)
    texts = list(data.documents) + list(data.queries)
    with clock("hash"):
        keys = [text_key(text) for text in texts]

    class Encoder:
        def identity(self) -> dict[str, str]:
            return {"provider": "bench"}

        def encode(self, batch: list[str], role: str) -> np.ndarray:
            raise AssertionError("a warm run encodes nothing")

    model, canonical = embed.model_key(Encoder().identity(), "document", None)
    vectors = np.random.default_rng(0).standard_normal((len(keys), DIM)).astype(np.float32)
    store = SqliteStore(cache)
    with clock("write"):
        for start in range(0, len(keys), 2048):
            store.put_many(model, canonical, dict(zip(keys[start:start + 2048], vectors[start:start + 2048],
                                                      strict=True)))
        store.close()
    size = store.size_on_disk()

    for _ in range(3):
        store = SqliteStore(cache)
        with clock("read", best=True):
            if hasattr(store, "lookup"):
                matrix = store.lookup(model, keys).matrix
            else:  # the reference: a dict of rows, stacked as its embed_texts did
                found = store.get_many(model, keys)
                matrix = np.stack([found[k] for k in keys])
        store.close()
        assert np.array_equal(matrix, vectors)
        del matrix
    store = SqliteStore(cache)
    with clock("embed_warm"):
        out = embed.embed_texts(texts, "document", None, Encoder(), store, embed.EncodeStats(), "bench")
    store.close()
    assert np.array_equal(out, vectors)
    return {**times, "size": size, "raw": vectors.nbytes, "vectors": len(keys)}


def _run(package_root: Path, beir: Path, cache: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    done = subprocess.run([sys.executable, __file__, "--worker", str(beir), str(cache)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker on {package_root} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=DOCS, help=f"documents in the synthetic corpus (default {DOCS:,})")
    docs = parser.parse_args().docs
    with tempfile.TemporaryDirectory(prefix="mrlcheck-bench-cache-") as tmp:
        folder = Path(tmp)
        reference = extract_package(REFERENCE, folder / "reference")
        beir = folder / "beir"
        write_beir(beir, docs)
        load_before = load_text()
        ref = _run(reference, beir, folder / "cache-reference")
        now = _run(REPO, beir, folder / "cache-now")
        load_after = load_text()
    mb = now["raw"] / 1e6

    def seconds(result: dict[str, float], *names: str) -> str:
        return (f"{sum(result[n] for n in names):.2f} s (CPU {sum(result[n + '_cpu'] for n in names):.2f} s)")

    def faster(*names: str) -> str:
        wall = sum(ref[n] for n in names) / sum(now[n] for n in names)
        cpu = sum(ref[n + "_cpu"] for n in names) / sum(now[n + "_cpu"] for n in names)
        return f"{wall:.1f}× faster (CPU {cpu:.1f}×)"

    read_wall, read_cpu = mb / now["read"], mb / now["read_cpu"]
    rows = [
        ("cache bytes / raw float32 bytes", f"{ref['size'] / ref['raw']:.2f} ×", f"{now['size'] / now['raw']:.3f} ×",
         f"{ref['size'] / now['size']:.1f}× smaller", "≤ 1.2 ×", now["size"] <= 1.2 * now["raw"]),
        (f"warm read of {now['vectors']:,} × {DIM} vectors (store → matrix)",
         f"{mb / ref['read']:.0f} MB/s (CPU {mb / ref['read_cpu']:.0f})", f"{read_wall:.0f} MB/s (CPU {read_cpu:.0f})",
         faster("read"), "≥ 500 MB/s", read_wall >= 500),
        ("warm embed_texts (hash + lookup + matrix)", seconds(ref, "embed_warm"), seconds(now, "embed_warm"),
         faster("embed_warm"), "–", None),
        ("write (put_many, 2048 per transaction)", seconds(ref, "write"), seconds(now, "write"), faster("write"),
         "–", None),
        (f"load the BEIR corpus ({docs:,} documents) + hash its texts", seconds(ref, "load", "hash"),
         seconds(now, "load", "hash"), faster("load", "hash"), "≤ 1.5 s", now["load"] + now["hash"] <= 1.5),
        ("  of which hashing", seconds(ref, "hash"), seconds(now, "hash"), faster("hash"), "", None),
    ]
    print(f"load average {load_before} before, {load_after} after (2 cores); reference = commit {REFERENCE}")
    print_markdown(("measurement", f"reference {REFERENCE}", "this tree", "ratio", "target", "met"),
                   [(name, old, new, ratio, target, "–" if met is None else ("yes" if met else "no"))
                    for name, old, new, ratio, target, met in rows])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        main()
