"""Resuming a killed workflow run (``revmatch run --resume``).

A run that was killed (SIGKILL, a lost SSH session, an OOM kill, a reboot) leaves Snakemake's
locks in ``.snakemake/locks/``, and every later run stops with "Directory cannot be locked"
until ``snakemake --unlock``. Unlocking while another Snakemake still works in the folder
would let two runs write the same files, so :func:`resume` unlocks only when nothing of a
run is alive in the working directory: no process there whose command line is Snakemake's
or one of its job scripts' (``/proc``), and, where ``squeue`` exists, no SLURM job of this
user queued or running with the folder as its working directory. It then runs the workflow
with ``--rerun-incomplete``: the jobs the kill interrupted run again from the start.

Processes of other users cannot be seen (``/proc/<pid>/cwd`` is theirs); a run started
between the check and the unlock (a second or two) is not caught.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: exit status when the folder is busy (a live Snakemake process or SLURM job)
BUSY = 3


def workdir_of(snakemake_args: Sequence[str], cwd: str | Path | None = None) -> Path:
    """The folder Snakemake will work in: ``--directory``/``-d`` when given, else ``cwd``."""
    base = Path(cwd or os.getcwd())
    args = list(snakemake_args)
    for i, arg in enumerate(args):
        if arg in ("-d", "--directory") and i + 1 < len(args):
            return (base / args[i + 1]).resolve()
        if arg.startswith("--directory="):
            return (base / arg.split("=", 1)[1]).resolve()
    return base.resolve()


def _is_snakemake(argv: Sequence[str]) -> bool:
    """Snakemake itself (``snakemake``, ``python -m snakemake``, a job's ``--mode subprocess``) or
    the script of one of its jobs (``.snakemake/scripts/tmp*.py``)."""
    return any(arg == "snakemake" or arg.endswith("/snakemake") or ".snakemake/scripts/" in arg
               for arg in argv)


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # after the (command name): state, parent pid
    return pids


def snakemake_processes(workdir: str | Path, proc: str | Path = "/proc") -> list[tuple[int, str]]:
    """(pid, command line) of the live Snakemake processes working in ``workdir``; this process and
    its parents left out. Empty where there is no /proc."""
    workdir = os.path.realpath(workdir)
    mine = _ancestors()
    found = []
    for entry in Path(proc).iterdir() if Path(proc).is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            if os.path.realpath(os.readlink(entry / "cwd")) != workdir:
                continue
            argv = [a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a]
        except OSError:  # gone, a zombie, or another user's
            continue
        if _is_snakemake(argv):
            found.append((int(entry.name), " ".join(argv)))
    return sorted(found)


def slurm_jobs(workdir: str | Path) -> list[str]:
    """Ids of this user's queued or running SLURM jobs whose working directory is ``workdir``
    (a killed ``--executor slurm`` run leaves its jobs running); empty without ``squeue``."""
    if shutil.which("squeue") is None:
        return []
    try:
        queue = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i %Z"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        queue = subprocess.CompletedProcess([], 1, "", str(exc))
    if queue.returncode != 0:
        print("revmatch run --resume: warning: squeue failed, SLURM jobs not checked: "
              f"{queue.stderr.strip()}", file=sys.stderr)
        return []
    workdir = os.path.realpath(workdir)
    return [fields[0] for fields in (line.split(None, 1) for line in queue.stdout.splitlines())
            if len(fields) == 2 and os.path.realpath(fields[1].strip()) == workdir]


def lock_files(workdir: str | Path) -> list[Path]:
    """Snakemake's lock files in ``workdir`` (``.snakemake/locks/<n>.input.lock``, ``.output.lock``)."""
    return sorted(Path(workdir, ".snakemake", "locks").glob("*.lock"))


def resume(snakemake_args: Sequence[str], python: str = sys.executable) -> int:
    """Unlock the working directory when no run is alive in it, then run snakemake with
    ``--rerun-incomplete``; :data:`BUSY` (nothing changed) when a run is alive."""
    workdir = workdir_of(snakemake_args)
    where = f"revmatch run --resume: {workdir}"
    alive = snakemake_processes(workdir)
    if alive:
        lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in alive)
        print(f"{where}: a Snakemake run is still alive in this folder; nothing unlocked:\n{lines}\n"
              "Wait for it to end (or stop it: kill PID), then resume again.", file=sys.stderr)
        return BUSY
    jobs = slurm_jobs(workdir)
    if jobs:
        print(f"{where}: SLURM jobs of this folder are still queued or running: {' '.join(jobs)}; "
              "nothing unlocked. Wait for them (squeue) or cancel them (scancel ID ...), then resume again.",
              file=sys.stderr)
        return BUSY
    snakemake = [python, "-m", "snakemake"]
    locks = lock_files(workdir)
    if locks:
        print(f"{where}: no Snakemake process or SLURM job is alive here; removing the stale locks "
              f"of a killed run ({len(locks)} lock files): snakemake --unlock", file=sys.stderr)
        unlocked = subprocess.call([*snakemake, "--unlock", *snakemake_args])
        if unlocked != 0:
            return unlocked
    return subprocess.call([*snakemake, "--rerun-incomplete", *snakemake_args])
