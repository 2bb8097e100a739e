"""A target of the demo DAG on a real single-node SLURM through profiles/slurm, against a local run.

`.ci/slurm-setup.sh` installs Debian's slurm-wlm and munge (apt-get) and starts munged,
slurmctld and slurmd on 127.0.0.1 with this machine's CPUs and memory and one GPU declared
as a generic resource. The workflow then runs with ``--executor slurm --profile <profiles/slurm
fitted to the node>``: the profile as a chair gets it, with the job-status settings of a
cluster without accounting database (squeue, quick polls), no retries, and memory requests
capped to the node. Every rule is a SLURM job; the training job asks for the GPU (--gpus=1).
A local run of the same targets runs at the same time in another copy.

The targets are the assignment and its START upload (23 jobs: the corpus, the averaging model,
its GPU training job, the conference data, the paper and aggregate matrices scattered over 2
parts each and gathered, the LP, the exports) with the averaging model alone as the matching
model (no fine-tuning) and 2 epochs. The executor grows its poll interval by 10 s after
every check that finds no job finished (up to 180 s, no setting caps it), which cost about
30 s a job on the critical path of this node's short jobs: the test's snakemake caps it at
POLL_CAP s.

Measured on 2 cores shared with other jobs (load 12-16): 11 min, 51 s of it the jobs' own CPU
time, most of the rest the two snakemake start-ups of every SLURM job; the full DAG before
(34 jobs, uncapped polls) took about 8 min on an idle machine. Plus about 90 s for the first
apt-get install. It needs root; .ci/run runs it next to the other tests (REVMATCH_SLURM_TEST=1):

    sudo .ci/slurm-setup.sh && REVMATCH_SLURM_TEST=1 .venv/bin/python -m pytest tests/test_slurm.py -q

It is skipped, with the reason, when SLURM cannot be installed or started (no root, no
apt-get).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import yaml

from revmatch.io import read_jsonl
from tests.conftest import REPO, copy_workflow, run_snakemake

# every test but the profile's own starts a SLURM node (fixture slurm_node)
SKIP = "starts a SLURM node as root, minutes: set REVMATCH_SLURM_TEST=1 to run"

SETUP = REPO / ".ci" / "slurm-setup.sh"
# The averaging model alone (its GPU job, no fine-tuning), short training.
FAST = "model:\n  matching_model: avg\n  train:\n    epochs: 2\n"
TARGETS = ["results/demo/assignments.jsonl", "results/demo/start_upload.txt"]
CONTRACT = [
    "reviewers.jsonl",
    "submissions.jsonl",
    "coi.npy",
    "viability.txt",
    "matrices/aggregate.npy",
    "assignments.jsonl",
    "assignments.csv",
    "assignments.xlsx",
    "start_upload.txt",
]
# The node's job-status settings (no accounting database: sacct would hang) and quick polls.
SINGLE_NODE = {
    "slurm-status-command": "squeue",
    "slurm-init-seconds-before-status-checks": 1,
    "seconds-between-status-checks": 1,
    "max-status-checks-per-second": 10,
    "latency-wait": 5,
    "retries": 0,
    "keep-going": False,
}
POLL_CAP = 2
# snakemake with the executor's poll interval capped at POLL_CAP seconds (see the docstring)
CAPPED_SNAKEMAKE = f"""
import sys
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
interval = RemoteExecutor.next_seconds_between_status_checks
RemoteExecutor.next_seconds_between_status_checks = interval.setter(
    lambda self, seconds: interval.fset(self, min(seconds, {POLL_CAP})))
sys.argv[0] = "snakemake"
from snakemake.cli import main
main()
"""
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/")


@pytest.fixture(scope="module")
def slurm_node():
    """Memory (MB) of the running single-node cluster; started here when it is not running."""
    if os.environ.get("REVMATCH_SLURM_TEST") != "1":
        pytest.skip(SKIP)
    if shutil.which("apt-get") is None and shutil.which("sbatch") is None:
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip(f"cannot start a SLURM node: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    info = subprocess.run(["sinfo", "-h", "-N", "-o", "%m"], capture_output=True, text=True, check=True)
    return int(info.stdout.split()[0])


def node_profile(folder, rules, node_mb):
    """profiles/slurm with the single node's settings; every rule's memory request fits the node."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile.update(SINGLE_NODE)
    cap = node_mb // 2
    resources = profile.setdefault("set-resources", {})
    for rule in rules:
        entry = resources.setdefault(rule, {})
        entry["mem_mb"] = min(entry.get("mem_mb", cap), cap)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def cancel_jobs_in(workdir):
    """Cancel the SLURM jobs left by a run in ``workdir`` (a failed or killed run)."""
    queue = subprocess.run(["squeue", "-h", "-o", "%i %Z"], capture_output=True, text=True)
    ids = [line.split()[0] for line in queue.stdout.splitlines() if line.split()[1:] == [str(workdir)]]
    if ids:
        subprocess.run(["scancel", *ids], check=False)


def run_demo(workdir, *args):
    (workdir / "fast.yaml").write_text(FAST)
    return run_snakemake(workdir, *TARGETS, *args, "--configfile", "config/config.yaml", "fast.yaml",
                         timeout=1200)


def run_on_slurm(workdir, profile):
    """The targets through SLURM (the executor's polls capped at POLL_CAP s)."""
    (workdir / "fast.yaml").write_text(FAST)
    env = {**os.environ, "PYTENSOR_FLAGS": os.environ.get("PYTENSOR_FLAGS", "")}
    cmd = [sys.executable, "-c", CAPPED_SNAKEMAKE, "--cores", "2", *TARGETS, "--executor", "slurm",
           "--profile", str(profile), "--configfile", "config/config.yaml", "fast.yaml"]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1200, env=env)


@pytest.fixture(scope="module")
def slurm_and_local_runs(slurm_node, tmp_path_factory):
    """The targets through SLURM and, at the same time, locally."""
    local = copy_workflow(tmp_path_factory.mktemp("local"))
    cluster = copy_workflow(tmp_path_factory.mktemp("slurm"))
    rules = run_snakemake(cluster, "--list-rules").stdout.split()
    profile = node_profile(tmp_path_factory.mktemp("profile") / "slurm-node", rules, slurm_node)
    with ThreadPoolExecutor(max_workers=1) as pool:
        local_run = pool.submit(run_demo, local)
        start = time.monotonic()
        try:
            proc = run_on_slurm(cluster, profile)
        finally:
            cancel_jobs_in(cluster)
        seconds = time.monotonic() - start
        local_proc = local_run.result()
    assert proc.returncode == 0, f"SLURM run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-12000:]}"
    assert local_proc.returncode == 0, f"local run failed:\n{local_proc.stderr[-8000:]}"
    print(f"SLURM run of {' '.join(TARGETS)}: {seconds:.0f} s")
    jobs = {}
    for job_id, rule in SUBMITTED.findall(proc.stderr + proc.stdout):
        jobs.setdefault(rule, []).append(job_id)
    return {"local": local, "slurm": cluster, "jobs": jobs, "seconds": seconds,
            "log": proc.stdout + proc.stderr}


@pytest.mark.slow
def test_every_job_ran_as_a_slurm_job(slurm_and_local_runs):
    jobs = slurm_and_local_runs["jobs"]
    planned = run_snakemake(slurm_and_local_runs["local"], *TARGETS, "-n", "--forceall", "--quiet", "rules",
                            "--configfile", "config/config.yaml", "fast.yaml")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", planned.stdout, flags=re.MULTILINE))
    counts.pop("total", None)
    counts.pop("all", None)
    assert counts, planned.stdout
    assert {rule: len(ids) for rule, ids in jobs.items()} == {rule: int(n) for rule, n in counts.items()}
    assert len(jobs["compute_paper_matrix"]) == len(jobs["aggregate_scores"]) == 2  # matching.parts: 2
    assert len(jobs["gather_aggregate"]) == 1


@pytest.mark.slow
def test_a_missing_account_is_said(slurm_and_local_runs):
    """profiles/slurm names no account: the executor says so (and guesses one) before submitting."""
    assert "No SLURM account given" in slurm_and_local_runs["log"]


def test_the_profile_fits_common_partitions():
    """No job asks for more than 4 hours (the training jobs checkpoint and resume when retried)."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    runtimes = {rule: entry["runtime"] for rule, entry in profile["set-resources"].items()
                if "runtime" in entry}
    assert runtimes["train_similarity_model"] <= 240 and runtimes["finetune_encoder"] <= 240
    assert max(runtimes.values()) <= 240 and profile["default-resources"]["runtime"] <= 240


@pytest.mark.slow
def test_training_job_got_the_gpu(slurm_and_local_runs):
    """The rule's gpu=1 reached SLURM as a GPU request (gres) and was allocated."""
    (job_id,) = slurm_and_local_runs["jobs"]["train_similarity_model"]
    job = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    assert job.returncode == 0, job.stderr
    assert re.search(r"(gres:gpu:1|gres/gpu=1)", job.stdout), job.stdout


@pytest.mark.slow
def test_slurm_outputs_equal_the_local_run(slurm_and_local_runs):
    local = slurm_and_local_runs["local"] / "results" / "demo"
    cluster = slurm_and_local_runs["slurm"] / "results" / "demo"
    for name in CONTRACT:
        assert (cluster / name).stat().st_size > 0, name
    for name in ["reviewers.jsonl", "submissions.jsonl", "coi.npy", "viability.txt", "start_upload.txt"]:
        assert (cluster / name).read_bytes() == (local / name).read_bytes(), name
    aggregate = (cluster / "matrices" / "aggregate.npy").read_bytes()
    assert aggregate == (local / "matrices" / "aggregate.npy").read_bytes()
    assert read_jsonl(cluster / "assignments.jsonl") == read_jsonl(local / "assignments.jsonl")
    assert np.load(cluster / "matrices" / "aggregate.npy").shape[0] == len(read_jsonl(local / "submissions.jsonl"))


@pytest.mark.slow
def test_rerun_on_slurm_has_nothing_to_do(slurm_and_local_runs, slurm_node):
    """A second invocation finds every output up to date (no job submitted)."""
    cluster = slurm_and_local_runs["slurm"]
    proc = run_snakemake(cluster, *TARGETS, "-n", "--configfile", "config/config.yaml", "fast.yaml",
                         "--executor", "slurm", "--profile", str(REPO / "profiles" / "slurm"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
