#!/usr/bin/env python3
"""Mutation testing of lambda_tracer's capture, redaction, config, endpoints and coldstart code (``make mutation``).

mutmut 3.8.1 (requirements/mutation.txt, its own venv: build/mutation-venv) mutates those modules and runs
the unit suite (tests/unit) against every mutant. This script sets up the layout mutmut needs, runs it
from scratch, then scores each module and fails when the unit suite kills less than ``--min-score`` percent
(90) of a module's mutants that are not listed as equivalent in tests/mutation/equivalent.txt.

Why a staging directory (build/mutation): mutmut names a mutant after its file's path from where it runs
(``layer/lambda_tracer/endpoints.py`` gives ``layer.lambda_tracer.endpoints.*``; only a ``src/`` prefix is
dropped), and a mutant is active only in the module of that name. The tests import ``lambda_tracer``, so run
from the repository root every mutant would be inert (mutmut stops early saying so). The stage holds
``lambda_tracer/`` (copied from layer/), ``local/``, ``tests/`` and the repository's pyproject.toml (pytest's
settings) with mutmut's settings added. mutmut copies that into build/mutation/mutants/ and mutates the copy
there, which the tests see as the repository root: ``mutants/layer/lambda_tracer`` links to the mutated
package (pytest's ``pythonpath`` and some unit tests' subprocesses import it from ``<root>/layer``), and the
repository's other top-level entries (README.md, examples/, ...) are linked in as they are.

Scoring, per module: killed (a test failed), timeout and segfault (the run crashed) count as killed;
survived, "no tests" (no unit test runs the function) and suspicious do not. A listed mutant counts as
equivalent only while it survives: a killed one stays in the score and is reported as a stale entry.

Test order: mutmut runs each mutant on the tests that called its function, given to pytest in the order of a set
of their names, the same for all of that function's mutants in one run. A test that fails after some other test
(state one leaves for the next) then kills every mutant of the function, equivalent ones too, in one run and none
in another. mutmut runs with PYTHONHASHSEED=0 (unless it is set) so that order, and so a run's verdicts, repeat; a
stale entry whose function lost all its mutants is reported as such (check it by hand before unlisting it).

Usage (the mutation venv's python): ``tools/mutation.py [--modules endpoints coldstart] [--max-children N]
[--min-score 90] [--report-only] [--show-equivalent]``. ``make mutation MUTATE="endpoints coldstart"`` passes
``--modules``; ``MUTATION_ARGS="--report-only --show-equivalent"`` the rest. mutmut names a mutant after its
function and a running number, so when a function changes, review its entries in the list (--show-equivalent).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
PACKAGE = "lambda_tracer"
#: The modules under mutation; a missing file (redaction.py before it exists) is reported and skipped.
MODULES = (
    "capture",
    "capture_convert",
    "capture_json",
    "redaction",
    "redaction_text",
    "redaction_masks",
    "redaction_encoded",
    "config",
    "endpoints",
    "coldstart",
)
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.txt"
TESTS = "tests/unit"
#: Tests kept out of the mutation run (pyproject.toml's markers): ``imports`` measures what a process imports, and
#: mutmut's trampolines import typing and inspect into every mutated module, so it fails on every mutant alike;
#: ``properties`` (Hypothesis) would run for a minute against every mutant of redaction and capture.
DESELECT = "not imports and not properties"
#: pytest plugins that no test of the run uses, kept from loading: each mutant runs a fresh pytest, and loading
#: them (hypothesis' imports hypothesis whole) cost three times what a mutant's own tests usually do.
UNUSED_PLUGINS = ("anyio", "hypothesispytest", "platformdirs")
#: Top-level entries of the repository the stage does not link into mutants/: copied or made there, or output.
NOT_LINKED = frozenset({"layer", "local", "tests", "pyproject.toml", "mutants", "build", "dist"})

KILLED = frozenset({"killed", "timeout", "segfault", "caught by type check"})
NOT_KILLED = frozenset({"survived", "no tests", "suspicious"})
#: Statuses left out of a score altogether (``# pragma: no mutate``).
SKIPPED = frozenset({"skipped"})
#: A run that left any of these did not finish: its scores mean nothing.
UNFINISHED = frozenset({"not checked", "check was interrupted by user"})

MUTMUT_CONFIG = """
# -- added by tools/mutation.py for mutmut (the rest is the repository's pyproject.toml, pytest's settings too) --
[tool.mutmut]
source_paths = ["{package}"]
only_mutate = [{only_mutate}]
also_copy = ["local"]
pytest_add_cli_args_test_selection = ["{tests}"]
# Tests that measure what a process imports see the trampolines' own imports (typing, inspect): deselected.
# Plugins no test uses are not loaded (each mutant starts a pytest).
pytest_add_cli_args = ["-m", "{deselect}", {no_plugins}]
# A fresh pytest per mutant, forked from a process that imported pytest only: the unit suite's conftest starts
# an X-Ray daemon thread, which a worker forked after collection would not have.
process_isolation = "forkserver"
forkserver_warmup = "none"
use_git_change_detection = false
"""


def no_plugin_args() -> list[str]:
    return [arg for plugin in UNUSED_PLUGINS for arg in ("-p", f"no:{plugin}")]


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in ("__pycache__", ".mypy_cache") or name.endswith(".pyc")}


def stage(modules: list[str], tests: list[str]) -> list[str]:
    """Lay out build/mutation from the working tree (from nothing: results of an earlier run are dropped).

    Returns the modules that exist.
    """
    present = [name for name in modules if (ROOT / "layer" / PACKAGE / f"{name}.py").is_file()]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    shutil.copytree(ROOT / "layer" / PACKAGE, WORK / PACKAGE, ignore=_ignore)
    shutil.copytree(ROOT / "local", WORK / "local", ignore=_ignore)
    shutil.copytree(ROOT / "tests", WORK / "tests", ignore=_ignore)
    only = ", ".join(f'"{PACKAGE}/{name}.py"' for name in present)
    pyproject = (ROOT / "pyproject.toml").read_text()
    if "[tool.mutmut]" in pyproject:
        raise SystemExit("mutation: pyproject.toml has a [tool.mutmut] table: tools/mutation.py makes its own")
    selection = '", "'.join(tests)
    no_plugins = ", ".join(f'"-p", "no:{plugin}"' for plugin in UNUSED_PLUGINS)
    mutmut_config = MUTMUT_CONFIG.format(
        package=PACKAGE, only_mutate=only, tests=selection, deselect=DESELECT, no_plugins=no_plugins
    )
    (WORK / "pyproject.toml").write_text(pyproject.rstrip("\n") + "\n" + mutmut_config)
    mutants = WORK / "mutants"
    (mutants / "layer").mkdir(parents=True)
    (mutants / "layer" / PACKAGE).symlink_to(Path("..") / PACKAGE, target_is_directory=True)
    # The rest of the repository, for tests that read files next to it (README.md, examples/): links, read only.
    for entry in sorted(ROOT.iterdir()):
        if not entry.name.startswith(".") and entry.name not in NOT_LINKED:
            (mutants / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return present


def mutmut(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the mutmut next to this interpreter, in the stage.

    Stopping this script (SIGTERM, Ctrl-C) stops mutmut the way it expects (SIGINT: it ends its workers).
    """
    exe = Path(sys.executable).parent / "mutmut"
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    env.setdefault("PYTHONHASHSEED", "0")  # each function's test order (a set's), the same from run to run
    pipe = subprocess.PIPE if capture else None
    with subprocess.Popen([str(exe), *args], cwd=WORK, env=env, text=True, stdout=pipe, stderr=pipe) as process:

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            out, err = process.communicate()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
    return subprocess.CompletedProcess(process.args, process.returncode, out or "", err or "")


def explain_failure(tests: list[str]) -> None:
    """mutmut hides why its clean run failed: run the unit suite on the unmutated stage and show the end."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-m", DESELECT, *no_plugin_args(), *tests],
        cwd=WORK / "mutants",
        env={k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-40:])
        print(f"The unit suite fails in build/mutation/mutants without any mutant:\n{tail}", file=sys.stderr)


# -- the report --------------------------------------------------------------------------------------------


def read_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """``mutant-name  reason`` per line; blank lines and ``#`` comments are skipped. A reason is required."""
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip() or "__mutmut_" not in name:
            raise SystemExit(f"{path}:{number}: expected 'mutant-name  reason', got {line!r}")
        if name in listed:
            raise SystemExit(f"{path}:{number}: {name} is listed twice")
        listed[name] = reason.strip()
    return listed


RESULT_LINE = re.compile(r"^\s*(\S+__mutmut_\d+): (.+?)\s*$")


def parse_results(text: str) -> dict[str, str]:
    """``mutmut results --all true`` output: mutant name -> status."""
    return {m.group(1): m.group(2) for m in map(RESULT_LINE.match, text.splitlines()) if m}


def module_of(name: str) -> str:
    """``lambda_tracer.endpoints.x_add__mutmut_3`` -> ``endpoints``."""
    return name.partition("__mutmut_")[0].rsplit(".", 2)[-2]


@dataclass
class Score:
    module: str
    statuses: Counter[str] = field(default_factory=Counter)
    equivalent: list[str] = field(default_factory=list)
    undetected: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in KILLED)

    @property
    def total(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in SKIPPED)

    @property
    def counted(self) -> int:
        return self.total - len(self.equivalent)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def score(results: dict[str, str], equivalent: dict[str, str], modules: list[str]) -> dict[str, Score]:
    scores = {name: Score(name) for name in modules}
    for name, status in sorted(results.items(), key=lambda item: _natural(item[0])):
        module = module_of(name)
        if module not in scores:
            continue
        entry = scores[module]
        entry.statuses[status] += 1
        if name in equivalent:
            if status in NOT_KILLED:
                entry.equivalent.append(name)
            else:
                entry.stale.append(name)
        elif status in NOT_KILLED:
            entry.undetected.append(name)
    return scores


def whole_function_killed(name: str, results: dict[str, str]) -> int:
    """How many mutants ``name``'s function has when every one of them was killed (0 when one was not): the mark of
    a test that fails whatever the mutant, in the order mutmut gave that function's tests (see the module's doc)."""
    function = name.partition("__mutmut_")[0] + "__mutmut_"
    statuses = [status for other, status in results.items() if other.startswith(function) and status not in SKIPPED]
    return len(statuses) if all(status in KILLED for status in statuses) else 0


def _natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def diff_lines(name: str) -> list[str]:
    """The changed lines of one mutant, without the diff headers.

    mutmut's own diff function, in this process: ``mutmut show`` would cost a second per mutant (its imports).
    """
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        cwd = os.getcwd()
        os.chdir(WORK)
        try:
            diff = get_diff_for_mutant(name, path=f"{PACKAGE}/{module_of(name)}.py")
        finally:
            os.chdir(cwd)
    except Exception:  # another mutmut than the pinned one: ask its command line
        done = mutmut("show", name, capture=True)
        diff = done.stdout or f"-(mutmut show failed: {done.stderr.strip()[-200:]})"
    lines = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return [line.rstrip() for line in lines]


def report(modules: list[str], missing: list[str], min_score: float, show_equivalent: bool = False) -> int:
    done = mutmut("results", "--all", "true", capture=True)
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        print("mutation: `mutmut results` failed", file=sys.stderr)
        return 2
    results = parse_results(done.stdout)
    equivalent = read_equivalent()
    scores = score(results, equivalent, modules)
    failed = False

    print("\nSurviving mutants not listed as equivalent (tests/mutation/equivalent.txt):")
    any_undetected = False
    for entry in scores.values():
        for name in entry.undetected:
            any_undetected = True
            status = results[name]
            print(f"  {name}" + ("" if status == "survived" else f" [{status}]"))
            for line in diff_lines(name):
                print(f"      {line}")
    if not any_undetected:
        print("  none")
    if show_equivalent:
        print("\nSurviving mutants listed as equivalent, with the reason given:")
        for entry in scores.values():
            for name in entry.equivalent:
                print(f"  {name}: {equivalent[name]}")
                for line in diff_lines(name):
                    print(f"      {line}")

    unchecked = [name for name, status in results.items() if status in UNFINISHED and module_of(name) in modules]
    for entry in scores.values():
        for name in entry.stale:
            alike = whole_function_killed(name, results)
            if alike:
                print(
                    f"warning: {name} is listed as equivalent but was {results[name]}, as were all {alike} mutants "
                    "of its function: run its tests on it by hand (an order-dependent test kills them all) before "
                    "removing it from the list"
                )
            else:
                print(f"warning: {name} is listed as equivalent but was {results[name]}: remove it from the list")
    known = set(results)
    for name in sorted(equivalent):
        if module_of(name) in modules and name not in known:
            print(f"warning: {name} is listed as equivalent but no longer exists: remove it from the list")

    print(f"\nMutation score per module (killed / (mutants - equivalent); at least {min_score:g} % needed):")
    print(f"  {'module':<12} {'mutants':>7} {'equiv.':>6} {'killed':>6} {'undetected':>10} {'score':>8}")
    for entry in scores.values():
        ok = entry.percent >= min_score
        failed |= not ok
        print(
            f"  {entry.module + '.py':<12} {entry.total:>7} {len(entry.equivalent):>6} {entry.killed:>6} "
            f"{len(entry.undetected):>10} {entry.percent:>7.1f}%{'' if ok else '  < ' + format(min_score, 'g') + ' %'}"
        )
    everything = Score("all")
    for entry in scores.values():
        everything.statuses.update(entry.statuses)
        everything.equivalent += entry.equivalent
        everything.undetected += entry.undetected
    print(
        f"  {'all':<12} {everything.total:>7} {len(everything.equivalent):>6} {everything.killed:>6} "
        f"{len(everything.undetected):>10} {everything.percent:>7.1f}%"
    )
    for name in missing:
        print(f"  {name + '.py':<12} not mutated: not in layer/{PACKAGE}, or not in the last run")
    if unchecked:
        print(f"mutation: {len(unchecked)} mutants were not checked (the run did not finish)", file=sys.stderr)
        return 1
    if failed:
        print(f"mutation: FAILED: a module scores under {min_score:g} %", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", choices=MODULES, default=list(MODULES), metavar="MODULE")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument(
        "--tests",
        nargs="+",
        default=[TESTS],
        metavar="PATH",
        help=f"run only these tests against the mutants (a quicker loop while writing tests; the gate is {TESTS})",
    )
    parser.add_argument("--report-only", action="store_true", help="score the last run again without running")
    parser.add_argument(
        "--show-equivalent", action="store_true", help="also show the listed equivalent mutants (to review the list)"
    )
    args = parser.parse_args(argv)
    modules = [name for name in MODULES if name in args.modules]
    read_equivalent()  # a malformed list fails before minutes of work

    started = time.monotonic()
    if args.report_only:
        # The modules of the last run: mutmut keeps one .meta file per mutated module.
        present = [name for name in modules if (WORK / "mutants" / PACKAGE / f"{name}.py.meta").is_file()]
        if not present:
            parser.error(f"no results for {', '.join(modules)} in build/mutation: run without --report-only first")
        missing = [name for name in modules if name not in present]
    else:
        present = stage(modules, args.tests)
        missing = [name for name in modules if name not in present]
        if not present:
            parser.error(f"none of {', '.join(modules)} exists in layer/{PACKAGE}")
        done = mutmut("run", "--max-children", str(args.max_children))
        if done.returncode != 0:
            print(f"mutation: `mutmut run` failed (exit {done.returncode})", file=sys.stderr)
            explain_failure(args.tests)
            return done.returncode or 1
    status = report(present, missing, args.min_score, args.show_equivalent)
    print(f"\nmutation: {time.monotonic() - started:.0f} s (build/mutation; `mutmut browse` there to explore)")
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
