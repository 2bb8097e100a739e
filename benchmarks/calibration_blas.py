"""Does a BLAS matter for the calibration model? The demo calibration with PyTensor linked to
a BLAS and without.

    .venv/bin/python benchmarks/calibration_blas.py --repeats 3 --out blas.json
    .venv/bin/python benchmarks/calibration_blas.py --blas-ldflags "-L/opt/openblas/lib -lopenblas"

Each run is a fresh process (PyTensor reads its flags once, at import) running the demo
calibration (``calibrate_reviews_file`` with ``config/config.yaml``'s calibration section on
``resources/demo/reviews.csv``, 2 cores) into a temporary folder. Arms: ``none``
(``blas__ldflags`` empty: no BLAS, no search, no warning; what ``revmatch.calibration`` sets
unless the user set the flag) and ``blas`` (``--blas-ldflags``, else what PyTensor's own
search finds; the arm is left out when nothing links). After one warm-up run each (PyTensor's
compile cache), the arms alternate, so that a change of load hits both. Prints and
optionally writes (JSON) per run: the fit time (``diagnostics.json``'s ``fit_seconds``: PyMC's
compilation and sampling), the process's wall and CPU seconds, the import time, the flags in
force, whether PyTensor warned about BLAS, the 1-minute load average before and after; per
arm the median; and the BLAS operations (dot products, Gemm, Gemv, Ger) of the model's
compiled log density and gradient.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLAS_OP_NAMES = ("Dot", "Gemm", "Gemv", "Ger")


def _with_flags(flags: str) -> dict[str, str]:
    """The environment with ``PYTENSOR_FLAGS`` setting ``blas__ldflags`` to ``flags``."""
    env = dict(os.environ)
    quoted = '"' + flags + '"' if flags else ""
    env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS", ""), f"blas__ldflags={quoted}"]))
    return env


def searched_flags() -> str:
    """What PyTensor's own BLAS search finds here ("" when nothing links), in a fresh process."""
    code = "import pytensor.link.c.cmodule as c; print(c.default_blas_ldflags())"
    env = dict(os.environ)
    env.pop("PYTENSOR_FLAGS", None)
    command = [sys.executable, "-W", "ignore", "-c", code]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""


def blas_ops(model) -> list[str]:
    """Names of the BLAS operations in the compiled log density and gradient of ``model``."""
    found = []
    for function in (model.compile_logp(), model.compile_dlogp()):
        graph = function.f.maker.fgraph
        found += [type(node.op).__name__ for node in graph.apply_nodes
                  if any(name in type(node.op).__name__ for name in BLAS_OP_NAMES)]
    return sorted(found)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (PyMC's chains)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def child(method: str) -> dict:
    """One demo calibration in this process; its figures."""
    import yaml

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from revmatch.calibration import CalibrationSettings, calibrate_reviews_file
        from revmatch.calibration.data import read_reviews
        from revmatch.calibration.model import build_model

        import_seconds = time.perf_counter() - start
        section = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["calibration"]
        fields = set(CalibrationSettings.__dataclass_fields__)
        known = {key: value for key, value in section.items() if key in fields}
        settings = CalibrationSettings(**{**known, "method": method})
        reviews_csv = REPO / section["reviews"]
        with tempfile.TemporaryDirectory() as out:
            names = ["submissions.csv", "reviewers.csv", "expertise.csv", "posterior.nc", "diagnostics.json"]
            fit_start = time.perf_counter()
            outputs = [Path(out) / name for name in names]
            diagnostics = calibrate_reviews_file(reviews_csv, *outputs, settings, cores=2)
            calibrate_seconds = time.perf_counter() - fit_start
        import pytensor

        columns, maps = settings.columns or {}, (settings.score_map, settings.expertise_map)
        reviews = read_reviews(reviews_csv, columns, *maps)
        ops = blas_ops(build_model(reviews, settings.n_levels, settings.n_expertise, settings.hyper))
    return {
        "blas_ldflags": pytensor.config.blas__ldflags,
        "blas_warning": any("BLAS" in str(w.message) for w in caught),
        "import_seconds": round(import_seconds, 2),
        "fit_seconds": round(diagnostics["fit_seconds"], 2),
        "calibrate_seconds": round(calibrate_seconds, 2),
        "process_cpu_seconds": round(cpu_seconds(), 2),
        "blas_ops": ops,
        "divergences": diagnostics.get("divergences"),
        "min_ess_bulk": diagnostics.get("min_ess_bulk"),
    }


def run_arm(arm: str, flags: str, method: str) -> dict:
    """One run of ``arm`` in a fresh process with ``blas__ldflags`` = ``flags``."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--method", method], capture_output=True, text=True,
        env=_with_flags(flags), cwd=REPO, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"arm {arm} failed:\n{proc.stderr[-3000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures.update(arm=arm, process_seconds=round(time.perf_counter() - start, 2),
                   load_before=load_before, load_after=os.getloadavg()[0])
    return figures


def machine() -> dict:
    """CPU model, cores, memory, Python and library versions."""
    import numpy
    import pymc
    import pytensor

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "pytensor": pytensor.__version__, "pymc": pymc.__version__, "numpy": numpy.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blas-ldflags", help="flags linking a BLAS (default: what PyTensor's search finds)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs an arm, after one warm-up run")
    parser.add_argument("--method", choices=["nuts", "advi"], default="nuts")
    parser.add_argument("--out", help="also write the figures here (JSON)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.method)))
        return

    blas = args.blas_ldflags if args.blas_ldflags is not None else searched_flags()
    arms = {"none": ""} | ({"blas": blas} if blas else {})
    if not blas:
        print("no BLAS links here (give --blas-ldflags): timing the arm 'none' only", file=sys.stderr)
    for arm, flags in arms.items():
        run_arm(arm, flags, args.method)  # warm-up: PyTensor's compile cache
    runs = [run_arm(arm, flags, args.method) for _ in range(args.repeats) for arm, flags in arms.items()]
    summary = {
        arm: {key: statistics.median(r[key] for r in runs if r["arm"] == arm)
              for key in ("fit_seconds", "calibrate_seconds", "process_seconds", "process_cpu_seconds")}
        for arm in arms
    }
    figures = {"machine": machine(), "method": args.method, "flags": arms, "median": summary, "runs": runs}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
