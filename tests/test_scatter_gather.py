"""Scatter-gather of the paper and aggregate matrices: ``matching.parts: 3`` gives the same
bytes of ``aggregate.npy`` as a single job.

Two copies of the workflow, both with blocks of 16 submissions (12 blocks on the demo's
184): the first runs everything up to the aggregate matrix in one part; the second gets
the first one's corpus and trained model (files copied with their times, so Snakemake
finds them up to date and trains nothing) and computes the matrices in three parts.
"""

import re
import shutil

import numpy as np
import pytest

from tests.conftest import copy_workflow, run_snakemake

pytestmark = pytest.mark.slow  # about 100 s on 2 cores: one training, two matrix runs

TARGET = "results/demo/matrices/aggregate.npy"
SETTINGS = "model:\n  train:\n    epochs: 2\nmatching:\n  parts: {parts}\n  block_rows: 16\n"


def run_until_aggregate(workdir, parts, *args):
    (workdir / "scatter.yaml").write_text(SETTINGS.format(parts=parts))
    return run_snakemake(workdir, TARGET, *args, "--configfile", "config/config.yaml", "scatter.yaml")


@pytest.fixture(scope="module")
def single_and_scattered(tmp_path_factory):
    single = copy_workflow(tmp_path_factory.mktemp("parts1"))
    proc = run_until_aggregate(single, 1)
    assert proc.returncode == 0, proc.stderr[-8000:]

    scattered = copy_workflow(tmp_path_factory.mktemp("parts3"))
    for shared in ("results/corpus", "results/model"):
        shutil.copytree(single / shared, scattered / shared)
    dry = run_until_aggregate(scattered, 3, "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    proc = run_until_aggregate(scattered, 3)
    assert proc.returncode == 0, proc.stderr[-8000:]
    return {"single": single, "scattered": scattered, "dry": dry.stdout + dry.stderr}


def test_shared_model_is_not_retrained(single_and_scattered):
    planned = dict(re.findall(r"^\s*(\w+)\s+(\d+)\s*$", single_and_scattered["dry"], flags=re.MULTILINE))
    assert planned.pop("total")
    assert set(planned) == {"extract_softconf", "reviewer_papers",
                            "compute_paper_matrix", "aggregate_scores", "gather_aggregate"}, planned
    assert planned["compute_paper_matrix"] == planned["aggregate_scores"] == "3"


def test_three_parts_give_the_bytes_of_one(single_and_scattered):
    matrices = single_and_scattered["scattered"] / "results" / "demo" / "matrices"
    parts = [np.load(matrices / "aggregate" / f"part{k}.npy") for k in range(3)]
    assert all(part.shape[0] > 0 for part in parts)
    assert sorted((matrices / "paper_matrix").glob("part*.parquet")) == [
        matrices / "paper_matrix" / f"part{k}.parquet" for k in range(3)
    ]
    single = single_and_scattered["single"] / "results" / "demo" / "matrices" / "aggregate.npy"
    gathered = matrices / "aggregate.npy"
    assert sum(part.shape[0] for part in parts) == np.load(single).shape[0]
    assert gathered.read_bytes() == single.read_bytes()
    assert not (single_and_scattered["single"] / "results" / "demo" / "matrices" / "aggregate" / "part1.npy").exists()
