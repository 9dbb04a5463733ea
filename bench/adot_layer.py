"""ADOT's Python Lambda layer as a peer in the bench, built as its Dockerfile builds it, without Docker.

aws-otel-python-instrumentation's lambda-layer/src/Dockerfile installs the distro with three requirements
deleted from its pyproject (the gRPC exporter, the aws-lambda and system-metrics instrumentations), copies the
repository's own ``opentelemetry/instrumentation/aws_lambda``, ``otel_wrapper.py`` and ``otel-instrument`` in,
compiles everything and removes urllib3. Here: aws-opentelemetry-distro 0.21.0 from the registry with
``--no-deps`` and its requirements less those three (requirements/bench-adot.txt), the exec wrapper and the
handler wrapper from bench/adot/ (the bench's stand-ins, see bench/adot/README.md), compiled by the runtime's
interpreter, urllib3 removed. Two modes, as the layer offers them:

    adot-fast      OTEL_AWS_LAMBDA_FAST_START=true: the lite SDK, the runtime exec'd directly
    adot-standard  the full SDK through opentelemetry-instrument (one more interpreter before the runtime's)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import instructions
from workloads import WORKLOADS

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE.parent / "requirements" / "bench-adot.txt"
DISTRO = "aws-opentelemetry-distro"


def build(build_dir: Path, python: Path) -> Path:
    """The layer directory (cached until requirements/bench-adot.txt or bench/adot/ change)."""
    layer = build_dir / "adot-layer"
    wanted = REQUIREMENTS.read_text() + "".join(p.read_text() for p in sorted((HERE / "adot").iterdir()) if p.is_file())
    stamp = layer / ".requirements"
    if stamp.is_file() and stamp.read_text() == wanted:
        return layer
    shutil.rmtree(layer, ignore_errors=True)
    target = layer / "python"
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    distro = [line for line in lines if line.startswith(DISTRO + "==")]
    rest = [line for line in lines if line and not line.startswith(DISTRO + "==")]
    # The layer's packages for the runtime's Python: pip run by that interpreter (markers like python_version).
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(target)]
    subprocess.run([*pip, "--no-deps", *distro], check=True)
    subprocess.run([*pip, *rest], check=True)
    shutil.copy2(HERE / "adot" / "otel_wrapper.py", target / "otel_wrapper.py")
    shutil.copy2(HERE / "adot" / "otel-instrument", layer / "otel-instrument")
    (layer / "otel-instrument").chmod(0o755)
    for path in target.glob("urllib3*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    subprocess.run([str(python), "-m", "compileall", "-q", str(target)], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(wanted)
    return layer


def configs(layer: Path, python: Path) -> list[instructions.CountConfig]:
    """Fast start and standard mode, zero-code through the layer's exec wrapper, as ADOT documents them."""
    # The wrapper's `python3` (standard mode) is the runtime's interpreter, as /var/lang/bin is first on Lambda's PATH.
    path = f"{python.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    wrapper = layer / "otel-instrument"
    fast = instructions.CountConfig(
        "adot-fast",
        opt=layer,
        wrapper=wrapper,
        env={"OTEL_AWS_LAMBDA_FAST_START": "true", "PATH": path},
        sends="otlp",
    )

    # Counted on their own, the shell and the script both get the fast-start branch's environment: everything the
    # shell exports in standard mode, without its last exec (see count_instrument_script).
    as_fast = {"OTEL_AWS_LAMBDA_FAST_START": "true"}

    def instrument_script(valgrind: str, scratch: Path, counter: instructions.Counter) -> int:
        env = counter.environment(standard, WORKLOADS["empty"], 9, **as_fast)
        return count_instrument_script(valgrind, scratch, python, layer, env)

    standard = instructions.CountConfig(
        "adot-standard",
        opt=layer,
        wrapper=wrapper,
        env={"PATH": path},
        sends="otlp",
        shell_env=as_fast,
        extra=instrument_script,
    )
    return [fast, standard]


def count_instrument_script(valgrind: str, scratch: Path, python: Path, layer: Path, env: dict[str, str]) -> int:
    """Standard mode's extra interpreter: ``python3 opentelemetry-instrument <runtime>``, which sets PYTHONPATH
    for its sitecustomize and execs the runtime. valgrind loses an image's counts when it execs, so the script is
    run with ``os.execl`` ending the process where the exec would happen; ``env`` is what the wrapper's shell
    exported (its fast-start environment has everything but the last branch)."""
    script = layer / "python" / "bin" / "opentelemetry-instrument"
    code = (
        "import os, sys\n"
        "os.execl = lambda *args: os._exit(0)\n"
        f"sys.argv = [{str(script)!r}, '/bin/true']\n"
        f"exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'), {{'__name__': '__main__'}})\n"
    )
    out = scratch / "adot-instrument-script.out"
    cmd = [valgrind, *instructions.VALGRIND, f"--cachegrind-out-file={out}", f"--log-file={out}.log"]
    done = subprocess.run(
        [*cmd, str(python), "-c", code], env=env, cwd=env["LAMBDA_TASK_ROOT"], capture_output=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"opentelemetry-instrument under valgrind: exit {done.returncode}\n{done.stderr[-2000:]!r}")
    return instructions.summary(out)


if __name__ == "__main__":  # build it on its own: python bench/adot_layer.py <runtime python>
    print(build(HERE.parent / "build" / "bench", Path(sys.argv[1])))
