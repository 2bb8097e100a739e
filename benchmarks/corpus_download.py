"""Corpus download at scale: a generated fake Datasets API release served on 127.0.0.1.

Measures (reported, not asserted):
- filtering throughput of one process (one core) on one shard, in MB/s of gzipped input, per
  wall second and per CPU second (the per-core cost on a shared machine), with gunzip alone
  as the ceiling (``--gunzip isal|zlib``; ``--filter-only`` stops there);
- the s2-api corpus rules run by Snakemake: wall time, download throughput (MB/s, per job
  from the ``benchmark:`` files and overall), and peak disk of raw shards (files and
  partial files under ``results/corpus/raw``) against the largest shard times the jobs.

    .venv/bin/python benchmarks/corpus_download.py --size-mb 2048 --shards 8 --out figures.json
    .venv/bin/python benchmarks/corpus_download.py --size-mb 150 --shards 1 --filter-only --repeat 3

The release is written under ``--workdir`` (default a folder in /tmp) and deleted
afterwards unless ``--keep``; shards repeat a few distinct gzip members (paper ids repeat
across shards; the merge removes the duplicates).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_workflow, run_snakemake  # noqa: E402
from s2_fake_api import FakeS2, gzip_lines, paper_record  # noqa: E402

from revmatch.corpus import ApiSettings, FilterSpec, filter_shard
from revmatch.corpus import download, s2_api, shard_reading  # internals measured: gunzip, one download

RELEASE = "2024-01-02"
MEMBER_RECORDS = 40_000  # records per distinct gzip member (about 7 MB gzipped)


def make_members(n_members: int, acl_share: float, seed: int = 0) -> list[bytes]:
    """Distinct gzip members of fake ``papers`` records."""
    rng = random.Random(seed)
    members = []
    for m in range(n_members):
        records = [
            paper_record(m * MEMBER_RECORDS + i, rng, acl=rng.random() < acl_share) for i in range(MEMBER_RECORDS)
        ]
        members.append(gzip_lines(records))
    return members


def write_shard(path: Path, members: list[bytes], size_bytes: int, rng: random.Random) -> int:
    """Concatenate members (a valid multi-member gzip file) up to about ``size_bytes``."""
    written = 0
    with open(path, "wb") as fh:
        while written < size_bytes:
            member = rng.choice(members)
            fh.write(member)
            written += len(member)
    return written


def disk_poller(folder: Path, stop: threading.Event, peaks: dict) -> None:
    """Sample the bytes and files under ``folder`` every 50 ms; keep the peaks."""
    while not stop.is_set():
        sizes = []
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    sizes.append(os.path.getsize(os.path.join(root, name)))
                except FileNotFoundError:
                    pass
        peaks["bytes"] = max(peaks.get("bytes", 0), sum(sizes))
        peaks["files"] = max(peaks.get("files", 0), len(sizes))
        time.sleep(0.05)


def best_seconds(run, repeat: int) -> tuple[float, float, object]:
    """The shortest wall time and the shortest CPU time (this process) of ``repeat`` calls of
    ``run``, and the last result. On a shared machine the CPU time is the per-core cost."""
    walls, cpus, result = [], [], None
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def measure_filter(shard: Path, shard_bytes: int, repeat: int) -> dict:
    """Filter MB/s (gzipped input) of one process on one shard, and gunzip alone as the ceiling,
    per wall second and per CPU second."""
    mb = shard_bytes / 1e6
    wall, cpu, (_, summary) = best_seconds(
        lambda: filter_shard(shard, FilterSpec(min_year=2016)), repeat
    )
    figures = {
        "filter_one_shard_s": round(wall, 2),
        "filter_mb_per_s_gz": round(mb / wall, 1),
        "filter_mb_per_cpu_s_gz": round(mb / cpu, 1),
        "filter_records_per_s": round(summary["records"] / wall),
    }
    print(f"filter ({shard_reading.GUNZIP_BACKEND}): {mb:.0f} MB gz, {summary['records']} records, best of {repeat}: "
          f"{wall:.2f} s wall = {figures['filter_mb_per_s_gz']} MB/s gz, {cpu:.2f} s CPU = "
          f"{figures['filter_mb_per_cpu_s_gz']} MB/s gz per core")
    wall, cpu, _ = best_seconds(lambda: sum(len(b) for b in shard_reading._iter_blocks(shard)), repeat)
    figures["gunzip_only_mb_per_s_gz"] = round(mb / wall, 1)
    figures["gunzip_only_mb_per_cpu_s_gz"] = round(mb / cpu, 1)
    print(f"gunzip alone ({shard_reading.GUNZIP_BACKEND}, same reader): {figures['gunzip_only_mb_per_s_gz']} MB/s gz wall, "
          f"{figures['gunzip_only_mb_per_cpu_s_gz']} MB/s gz per core")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=2048.0, help="gzipped size of the fake release")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--members", type=int, default=4, help="distinct gzip members to repeat")
    parser.add_argument("--acl-share", type=float, default=0.005)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--filter-only", action="store_true", help="measure filtering and gunzip only (no server)")
    parser.add_argument("--repeat", type=int, default=1, help="timed filter/gunzip runs; the best is reported")
    parser.add_argument("--gunzip", choices=["isal", "zlib"], default=shard_reading.GUNZIP_BACKEND,
                        help="gunzip backend of the filter (default: isal when installed)")
    args = parser.parse_args()
    shard_reading.GUNZIP_BACKEND = args.gunzip

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="revmatch-corpus-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    size = int(args.size_mb * 1e6)
    if 2.5 * size > free:
        size = int(free / 2.5)
        print(f"scaled down to {size / 1e6:.0f} MB: {free / 1e9:.1f} GB free in {workdir}")
    figures: dict = {"release_mb": size / 1e6, "shards": args.shards, "cores": args.cores}
    try:
        started = time.perf_counter()
        members = make_members(args.members, args.acl_share)
        server = FakeS2(workdir / "server", api_key="bench-key")
        rng = random.Random(1)
        files = []
        for k in range(args.shards):
            rel = f"{RELEASE}/papers/part-{k:03d}.jsonl.gz"
            (server.root / rel).parent.mkdir(parents=True, exist_ok=True)
            write_shard(server.root / rel, members, size // args.shards, rng)
            files.append(rel)
        server.add_release(RELEASE, {"papers": files})
        shard_bytes = [(server.root / f).stat().st_size for f in files]
        figures["release_bytes"] = sum(shard_bytes)
        figures["largest_shard_bytes"] = max(shard_bytes)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        print(f"release: {sum(shard_bytes) / 1e6:.0f} MB in {args.shards} shards ({figures['generate_s']} s)")

        # filtering, one process = one core; best of --repeat runs (the machine is shared)
        shard = server.root / files[0]
        figures["gunzip"] = shard_reading.GUNZIP_BACKEND
        figures.update(measure_filter(shard, shard_bytes[0], args.repeat))
        if args.filter_only:
            print(json.dumps(figures, indent=2))
            if args.out:
                args.out.write_text(json.dumps(figures, indent=2) + "\n")
            return

        server.start()
        settings = ApiSettings(base_url=server.base_url, api_key="bench-key")
        url = s2_api.list_dataset_files(RELEASE, "papers", settings)[0]
        probe = workdir / "probe" / "part.gz"
        report = download.download_file(url, probe, settings)
        figures["download_one_shard_mb_per_s"] = round(report["bytes"] / 1e6 / report["seconds"], 1)
        probe.unlink()
        print(f"download alone: {figures['download_one_shard_mb_per_s']} MB/s")

        # the workflow: manifest, one download and one filter job per shard, merge
        wf = workdir / "wf"
        wf.mkdir()
        copy_workflow(wf)
        (wf / "bench.yaml").write_text(
            f"corpus:\n  source: s2-api\n  s2:\n    base_url: {server.base_url}\n    release: latest\n"
            "    api_key_env: BENCH_S2_KEY\n    abstracts: false\n  filter:\n    require_abstract: false\n"
        )
        os.environ["BENCH_S2_KEY"] = "bench-key"
        raw = wf / "results" / "corpus" / "raw"
        raw.mkdir(parents=True)
        peaks: dict = {}
        stop = threading.Event()
        poller = threading.Thread(target=disk_poller, args=(raw, stop, peaks), daemon=True)
        poller.start()
        started = time.perf_counter()
        proc = run_snakemake(wf, "--configfile", "config/config.yaml", "bench.yaml", "--cores", str(args.cores),
                             "--", "results/corpus/papers.parquet", timeout=3600)
        wall = time.perf_counter() - started
        stop.set()
        poller.join()
        server.stop()
        if proc.returncode != 0:
            raise SystemExit(f"workflow failed:\n{proc.stderr[-5000:]}")
        bench = sorted((wf / "results" / "benchmarks" / "corpus").glob("download_papers_*.tsv"))
        download_s = [float(next(csv.DictReader(open(b), delimiter="\t"))["s"]) for b in bench]
        figures["workflow_wall_s"] = round(wall, 1)
        figures["workflow_mb_per_s_gz"] = round(sum(shard_bytes) / 1e6 / wall, 1)
        figures["download_job_mb_per_s"] = [round(b / 1e6 / s, 1) for b, s in zip(shard_bytes, download_s)]
        figures["peak_raw_bytes"] = peaks.get("bytes", 0)
        figures["peak_raw_files"] = peaks.get("files", 0)
        figures["bound_bytes"] = args.cores * max(shard_bytes)
        filtered = sum(p.stat().st_size for p in (wf / "results" / "corpus" / "shards").glob("*"))
        figures["filtered_output_bytes"] = filtered
        figures["corpus_summary"] = json.loads((wf / "results" / "corpus" / "summary.json").read_text())
        print(json.dumps(figures, indent=2))
        if args.out:
            args.out.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
