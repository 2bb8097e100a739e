"""Resuming a killed run: ``revmatch run --resume`` (revmatch.resume).

The end-to-end test kills a real Snakemake run of a small target of the demo DAG with SIGKILL
in the middle, shows that plain snakemake then stops with the lock error, that the resume
command finishes the run with the bytes of an uninterrupted run, and that it refuses (exit 3,
nothing unlocked) while a live Snakemake process works in the folder.
"""

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from revmatch.cli import main
from revmatch.resume import BUSY, lock_files, slurm_jobs, snakemake_processes, workdir_of
from tests.conftest import copy_workflow, run_snakemake

# 6 jobs: the demo corpus's 5 shards filtered, then merged
ARGS = ["results/corpus/papers.parquet", "--configfile", "config/config.yaml", ".test/fast.yaml"]
LOCKED = "Directory cannot be locked"


def _env():
    return {**os.environ, "PYTENSOR_FLAGS": os.environ.get("PYTENSOR_FLAGS", "")}


def _resume(workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "revmatch.cli", "run", "--resume", "--cores", "2", *ARGS],
                          cwd=workdir, capture_output=True, text=True, timeout=900, env=_env())


def _wait_for(condition, proc: subprocess.Popen, log: Path, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}:\n{log.read_text()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s:\n{log.read_text()[-5000:]}")
        time.sleep(0.05)


def _results(workdir: Path) -> dict[str, bytes]:
    """Every file the run wrote under results/ but the benchmarks (timings)."""
    root = workdir / "results"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != "benchmarks"}


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """A run killed mid-way (with a resume tried while it was alive), plain snakemake after the
    kill, the resume; an uninterrupted run in another copy at the same time."""
    reference = copy_workflow(tmp_path_factory.mktemp("uninterrupted"))
    workdir = copy_workflow(tmp_path_factory.mktemp("killed"))
    log = workdir / "killed-run.log"
    with ThreadPoolExecutor(max_workers=1) as pool:
        uninterrupted = pool.submit(run_snakemake, reference, *ARGS, timeout=900)
        with open(log, "w") as out:
            run = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *ARGS], cwd=workdir,
                                   stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
        try:
            _wait_for(lambda: lock_files(workdir), run, log, "lock files")
            while_alive = _resume(workdir)
            locks_while_alive = lock_files(workdir)
            _wait_for(lambda: "Finished job" in log.read_text(), run, log, "finished job")
            os.killpg(run.pid, signal.SIGKILL)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        killed_log = log.read_text()
        plain = run_snakemake(workdir, *ARGS, timeout=900)
        start = time.monotonic()
        resumed = _resume(workdir)
        seconds = time.monotonic() - start
        reference_run = uninterrupted.result()
    assert reference_run.returncode == 0, reference_run.stderr[-5000:]
    return {"workdir": workdir, "reference": reference, "run": run, "while_alive": while_alive,
            "locks_while_alive": locks_while_alive, "killed_log": killed_log, "plain": plain,
            "resumed": resumed, "seconds": seconds}


def test_the_kill_left_the_run_unfinished_and_locked(killed_and_resumed):
    r = killed_and_resumed
    assert r["run"].returncode == -signal.SIGKILL
    assert "100%" not in r["killed_log"], r["killed_log"][-3000:]
    assert r["plain"].returncode != 0
    assert LOCKED in r["plain"].stdout + r["plain"].stderr


def test_resume_refuses_while_the_run_is_alive(killed_and_resumed):
    r = killed_and_resumed
    proc = r["while_alive"]
    assert proc.returncode == BUSY, proc.stderr
    assert str(r["run"].pid) in proc.stderr and "still alive" in proc.stderr
    assert r["locks_while_alive"], "the live run's locks were removed"


def test_resume_finishes_with_the_bytes_of_an_uninterrupted_run(killed_and_resumed):
    r = killed_and_resumed
    proc = r["resumed"]
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "removing the stale locks" in proc.stderr
    assert re.search(r"Finished job", proc.stdout + proc.stderr)
    assert not lock_files(r["workdir"])
    resumed, reference = _results(r["workdir"]), _results(r["reference"])
    assert "corpus/papers.parquet" in reference
    assert sorted(resumed) == sorted(reference)
    assert [name for name in reference if resumed[name] != reference[name]] == []
    print(f"resume after the kill: {r['seconds']:.1f} s")


@pytest.fixture
def fake_run(tmp_path):
    """A process that looks like Snakemake (argv holds 'snakemake'), working in tmp_path/run."""
    workdir = tmp_path / "run"
    (workdir / ".snakemake" / "locks").mkdir(parents=True)
    (workdir / ".snakemake" / "locks" / "0.input.lock").write_text("x\n")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-m", "snakemake"],
                            cwd=workdir)
    yield workdir, proc
    proc.kill()
    proc.wait()


def test_snakemake_processes_are_found_by_their_working_directory(fake_run, tmp_path):
    workdir, proc = fake_run
    deadline = time.monotonic() + 10
    while not snakemake_processes(workdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid, _ in snakemake_processes(workdir)] == [proc.pid]
    assert snakemake_processes(tmp_path) == []  # another folder
    assert snakemake_processes(workdir, proc=tmp_path / "no-proc") == []


def test_resume_refuses_a_busy_folder_and_leaves_its_locks(fake_run, monkeypatch, capsys):
    workdir, proc = fake_run
    monkeypatch.chdir(workdir)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    deadline = time.monotonic() + 10
    while not snakemake_processes(workdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert main(["run", "--resume", "--cores", "2"]) == BUSY
    err = capsys.readouterr().err
    assert f"pid {proc.pid}" in err and "nothing unlocked" in err
    assert calls == [] and lock_files(workdir)
    proc.kill()
    proc.wait()
    assert main(["run", "--cores", "2", "--resume", "-n"]) == 0
    assert [cmd[1:] for cmd in calls] == [["-m", "snakemake", "--unlock", "--cores", "2", "-n"],
                                          ["-m", "snakemake", "--rerun-incomplete", "--cores", "2", "-n"]]


def test_resume_refuses_while_slurm_jobs_of_the_folder_are_queued(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    squeue = bin_dir / "squeue"
    squeue.write_text(f"#!/bin/sh\necho '41 /elsewhere'\necho '42 {tmp_path}'\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert slurm_jobs(tmp_path) == ["42"]
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--resume"]) == BUSY
    assert "42" in capsys.readouterr().err


def test_run_passes_every_argument_to_snakemake(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    assert main(["run", "--cores", "2", "-n", "--configfile", "a.yaml", "b.yaml"]) == 0
    assert calls[0][1:] == ["-m", "snakemake", "--cores", "2", "-n", "--configfile", "a.yaml", "b.yaml"]


def test_the_working_directory_is_snakemakes_directory_option(tmp_path):
    assert workdir_of(["--cores", "2"], cwd=tmp_path) == tmp_path.resolve()
    assert workdir_of(["-d", "sub", "-n"], cwd=tmp_path) == (tmp_path / "sub").resolve()
    assert workdir_of(["--directory=/x/y"], cwd=tmp_path) == Path("/x/y")
