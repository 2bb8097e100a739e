import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo"


def copy_workflow(dest: Path) -> Path:
    """A runnable copy of the workflow (rules, config, demo inputs) in ``dest``."""
    for name in ("config", "workflow", "profiles", "src", ".test"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    shutil.copytree(DEMO, dest / "resources" / "demo", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run snakemake in a subprocess in ``workdir`` (stable across versions)."""
    env = dict(os.environ)
    env.setdefault("PYTENSOR_FLAGS", "")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo DAG run once, end to end, with short training and sampling."""
    workdir = copy_workflow(tmp_path_factory.mktemp("demo"))
    proc = run_snakemake(workdir, "--configfile", "config/config.yaml", ".test/fast.yaml")
    if proc.returncode != 0:
        pytest.fail(f"demo workflow failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-15000:]}")
    return workdir


def planned_rules(proc: subprocess.CompletedProcess) -> set[str]:
    """The rules of a dry run's job table (``snakemake -n``), without ``total``."""
    text = proc.stdout + proc.stderr
    table = text.split("Job stats:")[1] if "Job stats:" in text else ""
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, flags=re.M)} - {"total"}
