"""Cold init of every function against ``import boto3``, in a Lambda-like virtual environment, side by side.

Lambda's init phase imports the handler module; a function's first request also needs boto3 (some import it
at module level, the others on that request), so the figure is ``import app; import boto3`` against
``import boto3`` alone (target <= 1.2x). Each runs in a fresh interpreter of the venv ``lambda_env`` builds
(only what Lambda's python3.13 runtime and the layer provide), with the function's code directory then the
layer on the import path and the environment variables the template gives that function, plus what Lambda
itself sets. Both sides load bytecode from one private ``PYTHONPYCACHEPREFIX`` warmed once (as Lambda's
runtime ships compiled boto3), and the runs alternate baseline / function so a busy moment weighs on both.

The ratio is of CPU time (user + system, ``time.process_time``): on a machine shared with other work, wall
time mostly measures the neighbours (``import boto3`` ranged 0.4-3.5 s wall on the 2-core machine), while
an import is CPU-bound work that a Lambda init does on its own vCPU. It is the median over the rounds of
each round's function run divided by its baseline run (adjacent in time, so they share the machine's load).
The CPU and wall-clock medians of each side are printed too.

``--built`` measures what ships: ``sam build``'s output (``.aws-sam/build``: each function's folder, the
layer's ``python/`` with the bytecode its Makefile compiled), with nothing written back (Lambda's ``/opt`` and
``/var/task`` are read-only: ``PYTHONDONTWRITEBYTECODE``), boto3 from the venv's install-time bytecode as
Lambda's runtime ships it. Without ``--built`` the sources are measured with a warmed private bytecode cache.
Each row also gives the first request's extra import time: ``import app; import boto3`` then the modules the
first request imports (``first_request.py`` reads them from the code), less the cold init.

Run: ``.venv/bin/python bench/cold_start.py [--built]`` (from the repository root; ``make bench`` builds first).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "local")]

from first_request import first_request_modules  # noqa: E402 - needs the path above
from lambda_env import lambda_python  # noqa: E402
from local_stack.resolver import Resolver  # noqa: E402
from local_stack.spec import FunctionSpec, functions  # noqa: E402
from local_stack.template import load_template, parameter_defaults  # noqa: E402

RUNS = 9
BUILD_DIR = REPO / ".aws-sam" / "build"
TARGET_RATIO = 1.2
REGION = "eu-west-1"
_PROBE = (
    "import time; w, c = time.perf_counter(), time.process_time(); {statement}; "
    "print(time.perf_counter() - w, time.process_time() - c)"
)


class _Attributes(dict[tuple[str, str], str]):
    """Any ``Fn::GetAtt`` answers a plausible ARN: nothing is called at init, only names are read."""

    def __missing__(self, key: tuple[str, str]) -> str:
        return f"arn:aws:bench:{REGION}:123456789012:{key[0]}/{key[1]}"


def function_specs(built: bool = False) -> dict[str, FunctionSpec]:
    """The template's functions with their resolved environment (resources named by their logical id).

    ``built``: ``sam build``'s template and folders, the layer's ``python/`` as Lambda mounts it (/opt/python).
    """
    root = BUILD_DIR if built else REPO
    template = load_template(root / "template.yaml")
    refs: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        content = (resource.get("Properties") or {}).get("ContentUri")
        is_layer = resource.get("Type", "").endswith("LayerVersion") and isinstance(content, str)
        layer = (root / str(content) / ("python" if built else "")).resolve()
        refs[logical_id] = str(layer) if is_layer else logical_id
    parameters = {name: "bench" for name in template.get("Parameters", {})} | parameter_defaults(template)
    return functions(template, Resolver(template, parameters, refs, _Attributes()), root)


def _environment(spec: FunctionSpec, pycache: str | None) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC", **spec.environment}
    env |= {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "PYTHONPATH": ":".join([str(spec.code_dir), *(str(layer) for layer in spec.layer_dirs)]),
    }
    # A cache prefix would hide the built layer's own __pycache__: built, nothing is written, as in Lambda.
    env |= {"PYTHONPYCACHEPREFIX": pycache} if pycache else {"PYTHONDONTWRITEBYTECODE": "1"}
    return env


def _seconds(python: Path, statement: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``statement`` in a fresh interpreter."""
    # Our own venv's interpreter running a fixed probe.
    out = subprocess.run(  # noqa: S603
        [str(python), "-c", _PROBE.format(statement=statement)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure(
    python: Path, specs: dict[str, FunctionSpec], runs: int = RUNS, built: bool = False
) -> Iterator[dict[str, Any]]:
    """One row per function, as each is measured."""
    with tempfile.TemporaryDirectory(prefix="pay1st-bench-cold-") as pycache:
        for logical_id, spec in sorted(specs.items(), key=lambda item: item[1].code_dir.name):
            env = _environment(spec, None if built else pycache)
            module = spec.handler.rpartition(".")[0]
            statement = f"import {module}; import boto3"
            deferred = first_request_modules(spec.code_dir / f"{module}.py", list(spec.layer_dirs))
            first = "; ".join([statement, *(f"import {name}" for name in deferred)])
            try:  # compiles into the private cache; a broken import is reported, not measured
                _seconds(python, first, env, spec.code_dir)
                _seconds(python, "import boto3", env, spec.code_dir)
            except subprocess.CalledProcessError as exc:
                yield {"function": spec.code_dir.name, "error": exc.stderr.strip().splitlines()[-1:]}
                continue
            samples: dict[str, list[tuple[float, float]]] = {"boto3": [], "app": [], "first": []}
            for round_number in range(runs):
                sides = [("boto3", "import boto3"), ("app", statement), ("first", first)]
                for side, text in sides if round_number % 2 == 0 else reversed(sides):
                    samples[side].append(_seconds(python, text, env, spec.code_dir))
            baseline, function = samples["boto3"], samples["app"]
            yield (
                {
                    "function": spec.code_dir.name,
                    "id": logical_id,
                    "cpu_ms": statistics.median(cpu for _, cpu in function) * 1000,
                    "boto3_cpu_ms": statistics.median(cpu for _, cpu in baseline) * 1000,
                    "wall_ms": statistics.median(wall for wall, _ in function) * 1000,
                    "boto3_wall_ms": statistics.median(wall for wall, _ in baseline) * 1000,
                    # Each round's function run against that round's baseline run, its neighbour in time.
                    "ratio": statistics.median(
                        app[1] / base[1] for app, base in zip(function, baseline, strict=True)
                    ),
                    # The first request's imports on top of the cold init, each round against its own init run.
                    "first_request_ms": statistics.median(
                        (first[1] - app[1]) * 1000
                        for first, app in zip(samples["first"], function, strict=True)
                    ),
                }
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="cold init of every function against import boto3")
    parser.add_argument("--built", action="store_true", help="measure sam build's output (.aws-sam/build)")
    built = parser.parse_args(argv).built
    if built and not (BUILD_DIR / "template.yaml").is_file():
        print("no .aws-sam/build: run `make build` first")
        return 2
    python = lambda_python()
    version = subprocess.run(  # noqa: S603 - our venv's interpreter, fixed probe
        [
            str(python),
            "-c",
            "import sys, importlib.metadata as m; "
            "print(sys.version.split()[0], *(m.version(p) for p in ('boto3', 'aws-lambda-powertools', 'urllib3')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    print(
        f"Cold init, `import app; import boto3` against `import boto3`, CPU time of fresh interpreters, median of {RUNS} "
        f"alternating runs each, Lambda-like venv (Python {version[0]}, boto3 {version[1]}, Powertools "
        f"{version[2]}, urllib3 {version[3]}: the layer's requirements, nothing else), "
        + (
            "as built (.aws-sam/build, nothing written back):"
            if built
            else "from the sources (warmed bytecode cache):"
        )
    )
    worst = 0.0
    for row in measure(python, function_specs(built), built=built):
        if "error" in row:
            print(f"  {row['function']:<20} import failed: {row['error']}")
            worst = float("inf")
            continue
        ratio = row["ratio"]
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET_RATIO else f"OVER the {TARGET_RATIO}x target"
        print(
            f"  {row['function']:<18} CPU {row['cpu_ms']:6.1f} ms vs boto3 {row['boto3_cpu_ms']:6.1f} ms  "
            f"{ratio:4.2f}x  {verdict:<4}  (wall {row['wall_ms']:6.1f} vs {row['boto3_wall_ms']:6.1f} ms, "
            f"{row['wall_ms'] / row['boto3_wall_ms']:4.2f}x)  first request +{row['first_request_ms']:5.1f} ms imports",
            flush=True,
        )
    print(f"  worst ratio {worst:.2f}x (target <= {TARGET_RATIO}x)")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
