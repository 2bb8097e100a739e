"""Compare two result trees of the workflow, ignoring what legitimately differs between runs.

    python benchmarks/compare_results.py before/results after/results

Every file under either tree is compared byte for byte, except:
- timings: JSON keys that hold a duration or a time stamp (``TIMING_KEYS``) are dropped
  before comparing JSON files; text lines that report a duration are dropped;
- spreadsheets (``.xlsx``): compared cell by cell (the zip's time stamps differ);
- torch files (``.pt``): compared object by object, tensors by value, timings dropped;
- posteriors (``.nc``): every group's variables compared by value, except the sampler's
  timings; attributes (creation time, versions) are not compared;
- content-addressed caches (``CACHE_DIRS``): their file names are random; compared as the
  set of their files' contents (each cache block's bytes).
Exits 1 and lists the differing and missing files when the trees differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

TIMING_KEYS = re.compile(r"(seconds|per_second|elapsed|duration|runtime|wall|_s$|^time$|timestamp|cdate|mdate"
                         r"|started|finished|_at$|date$|sampling_time|tuning_steps_time|perf_counter|process_time)", re.IGNORECASE)
TIMING_LINE = re.compile(r"(\d+(\.\d+)?\s*(s|sec|seconds|min|minutes)\b|\d\d:\d\d:\d\d)")
CACHE_DIRS = ("embedding_cache", "cache", "onnx")
SKIP_DIRS = ("logs", "benchmarks", ".snakemake")


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not TIMING_KEYS.search(str(k))}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def xlsx_cells(path: Path) -> list:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    return [(sheet.title, [tuple(row) for row in sheet.iter_rows(values_only=True)]) for sheet in book.worksheets]


def torch_object(path: Path):
    import torch

    def plain(value):
        if isinstance(value, torch.Tensor):
            return ("tensor", str(value.dtype), tuple(value.shape), hashlib.sha256(value.cpu().numpy().tobytes()).hexdigest())
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if not TIMING_KEYS.search(str(k))}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(torch.load(path, map_location="cpu", weights_only=False))


def netcdf_groups(path: Path) -> dict:
    import arviz

    data = arviz.from_netcdf(path)
    values = {}
    for group in data.groups():
        for name, variable in data[group].variables.items():
            if not TIMING_KEYS.search(str(name)):
                values[f"{group}/{name}"] = hashlib.sha256(variable.values.tobytes()).hexdigest()
    return values


def comparable(path: Path):
    """What is compared of one file."""
    if path.suffix == ".pt":
        return torch_object(path)
    if path.suffix == ".nc":
        return netcdf_groups(path)
    if path.suffix == ".json":
        try:
            return without_timings(json.loads(path.read_text()))
        except ValueError:
            pass
    if path.suffix == ".xlsx":
        return xlsx_cells(path)
    if path.suffix in (".txt", ".log", ".md", ".csv", ".jsonl") and path.stat().st_size < 50_000_000:
        lines = path.read_text(errors="replace").splitlines()
        if path.suffix == ".txt":
            lines = [line for line in lines if not (TIMING_LINE.search(line) and re.search(r"time|took|second|minute", line, re.I))]
        return lines
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(path: Path, root: Path) -> tuple[str, str] | None:
    parts = path.relative_to(root).parts
    for i, part in enumerate(parts[:-1]):
        if part in CACHE_DIRS:
            return "/".join(parts[:i + 1]), hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def tree(root: Path) -> tuple[dict[str, Path], dict[str, set[str]]]:
    files, caches = {}, {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts):
            continue
        key = cache_key(path, root)
        if key:
            caches.setdefault(key[0], set()).add(key[1])
        else:
            files[str(rel)] = path
    return files, caches


def compare(first: Path, second: Path) -> list[str]:
    """Differences between two result trees, one line each."""
    (files_a, caches_a), (files_b, caches_b) = tree(first), tree(second)
    problems = [f"only in {first}: {name}" for name in sorted(set(files_a) - set(files_b))]
    problems += [f"only in {second}: {name}" for name in sorted(set(files_b) - set(files_a))]
    for name in sorted(set(files_a) & set(files_b)):
        if comparable(files_a[name]) != comparable(files_b[name]):
            problems.append(f"differs: {name}")
    for name in sorted(set(caches_a) | set(caches_b)):
        if caches_a.get(name, set()) != caches_b.get(name, set()):
            problems.append(f"cache differs: {name} ({len(caches_a.get(name, ()))} vs {len(caches_b.get(name, ()))} files)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    problems = compare(args.first, args.second)
    files = len(tree(args.first)[0])
    for line in problems:
        print(line)
    print(f"{files} files compared: {'identical' if not problems else f'{len(problems)} difference(s)'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
