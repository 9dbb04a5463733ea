"""tools/mutation.py's scoring (``make mutation``) and the committed list of equivalent mutants.

mutmut itself is not needed here (it lives in build/mutation-venv): these check the pure parts that decide
whether ``make mutation`` passes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


mutation = _load()

RESULTS = """\
    lambda_tracer.endpoints.x_add__mutmut_1: killed
    lambda_tracer.endpoints.x_add__mutmut_2: survived
    lambda_tracer.endpoints.x_add__mutmut_3: survived
    lambda_tracer.endpoints.x_add__mutmut_4: timeout
    lambda_tracer.endpoints.x_add__mutmut_5: no tests
    lambda_tracer.endpoints.x_add__mutmut_6: skipped
    lambda_tracer.endpoints.x_add__mutmut_7: killed
    lambda_tracer.coldstart.xǁThingǁmethod__mutmut_1: killed
    lambda_tracer.coldstart.x_take__mutmut_10: survived
    lambda_tracer.handler.x_other__mutmut_1: survived
"""


def test_the_committed_equivalent_list_is_well_formed() -> None:
    listed = mutation.read_equivalent()
    for name, reason in listed.items():
        assert name.startswith("lambda_tracer."), name
        assert mutation.module_of(name) in mutation.MODULES, name
        assert len(reason) >= 20, f"{name}: say why it is equivalent"


def test_parse_results_reads_mutmut_results_output() -> None:
    results = mutation.parse_results("noise\n" + RESULTS)
    assert len(results) == 10
    assert results["lambda_tracer.endpoints.x_add__mutmut_5"] == "no tests"
    assert results["lambda_tracer.coldstart.xǁThingǁmethod__mutmut_1"] == "killed"
    assert mutation.module_of("lambda_tracer.coldstart.xǁThingǁmethod__mutmut_1") == "coldstart"


def test_score_leaves_out_surviving_equivalents_and_skipped_mutants_only() -> None:
    results = mutation.parse_results(RESULTS)
    equivalent = {
        "lambda_tracer.endpoints.x_add__mutmut_2": "same behaviour",
        "lambda_tracer.endpoints.x_add__mutmut_7": "listed, but a test kills it",
    }
    scores = mutation.score(results, equivalent, ["endpoints", "coldstart"])
    assert set(scores) == {"endpoints", "coldstart"}  # handler is not under mutation
    endpoints = scores["endpoints"]
    assert endpoints.total == 6  # the skipped one is out
    assert endpoints.killed == 3  # killed twice, timeout once
    assert endpoints.equivalent == ["lambda_tracer.endpoints.x_add__mutmut_2"]
    assert endpoints.stale == ["lambda_tracer.endpoints.x_add__mutmut_7"]
    assert endpoints.undetected == [
        "lambda_tracer.endpoints.x_add__mutmut_3",
        "lambda_tracer.endpoints.x_add__mutmut_5",
    ]
    assert endpoints.percent == pytest.approx(100 * 3 / 5)
    coldstart = scores["coldstart"]
    assert (coldstart.total, coldstart.killed, coldstart.percent) == (2, 1, 50.0)


def test_a_function_whose_mutants_were_all_killed_is_told_apart() -> None:
    """A stale entry whose function lost every mutant (an order-dependent test fails whatever the mutant) is reported
    as such, with the function's count; one killed beside survivors is not."""
    results = mutation.parse_results(RESULTS)
    assert mutation.whole_function_killed("lambda_tracer.endpoints.x_add__mutmut_7", results) == 0
    assert mutation.whole_function_killed("lambda_tracer.coldstart.xǁThingǁmethod__mutmut_1", results) == 1
    results.update({f"lambda_tracer.endpoints.x_add__mutmut_{n}": "killed" for n in (2, 3, 5)})
    assert mutation.whole_function_killed("lambda_tracer.endpoints.x_add__mutmut_7", results) == 6  # 6: skipped
    results["lambda_tracer.endpoints.x_add2__mutmut_1"] = "survived"  # another function, named alike
    assert mutation.whole_function_killed("lambda_tracer.endpoints.x_add__mutmut_7", results) == 6
    results["lambda_tracer.endpoints.x_add__mutmut_3"] = "survived"
    assert mutation.whole_function_killed("lambda_tracer.endpoints.x_add__mutmut_7", results) == 0


def test_the_list_needs_a_reason_per_mutant_and_no_repeats(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# comment\n\nlambda_tracer.config.x_f__mutmut_1   a reason that says why\n")
    assert mutation.read_equivalent(good) == {"lambda_tracer.config.x_f__mutmut_1": "a reason that says why"}
    for text in (
        "lambda_tracer.config.x_f__mutmut_1\n",
        "not-a-mutant-name because\n",
        "lambda_tracer.config.x_f__mutmut_1 why\nlambda_tracer.config.x_f__mutmut_1 why again\n",
    ):
        bad = tmp_path / "bad.txt"
        bad.write_text(text)
        with pytest.raises(SystemExit):
            mutation.read_equivalent(bad)
