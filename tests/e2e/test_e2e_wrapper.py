"""The exec wrapper inside the real boot sequence: other layers, chaining, the kill switch, running twice,
and handler strings that a shell would love to interpret."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_tracer_local.daemon import by_name
from lambda_tracer_local.runtime import LocalLambda

from .support import names, outcome, write_function

REDIRECT = "lambda_tracer.handler.handler"
REPORT_ENV = """
import os
import sys

def handler(event, context):
    return {
        "handler": os.environ.get("_HANDLER"),
        "original": os.environ.get("LAMBDA_TRACER_ORIGINAL_HANDLER"),
        "marker": os.environ.get("CHAIN_MARKER"),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "tracer_loaded": "lambda_tracer" in sys.modules,
    }
"""


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_layer_in_the_site_packages_layout_still_imports(layer_dir: Path, tmp_path: Path) -> None:
    """Proves the wrapper leaves the runtime's sys.path logic alone (it must never export PYTHONPATH)."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    other = tmp_path / "other-layer"
    site = other / "python" / "lib" / version / "site-packages"
    write_function(
        other,
        {
            f"python/lib/{version}/site-packages/tinymod.py": "VALUE = 'from the other layer'\n",
            # A .pth file is honoured only through site.addsitedir, which the runtime skips once PYTHONPATH is set.
            f"python/lib/{version}/site-packages/other.pth": "../../../../extra\n",
            "extra/pthmod.py": "VALUE = 'via .pth'\n",
        },
    )
    assert site.is_dir()
    fn_dir = write_function(
        tmp_path / "fn",
        {
            "app.py": REPORT_ENV
            + "\nimport tinymod, pthmod\n\n"
            + "def uses_layer(event, context):\n"
            + "    return {**handler(event, context), 'tiny': tinymod.VALUE, 'pth': pthmod.VALUE}\n"
        },
    )
    with LocalLambda(fn_dir, "app.uses_layer", opt_dirs=[layer_dir, other]) as fn:
        inv = fn.invoke({})
        runtime_dir = str(fn.runtime_dir)
    assert inv.status == "response", inv.error_message
    assert inv.payload["tiny"] == "from the other layer"
    assert inv.payload["pth"] == "via .pth"
    assert inv.payload["handler"] == REDIRECT  # ours was attached and active
    assert inv.payload["pythonpath"] == runtime_dir  # set by the runtime's bootstrap.py, not by the wrapper
    assert by_name(inv.documents, "## uses_layer")["annotations"]["ColdStart"] is True


def test_next_wrapper_is_chained_and_both_take_effect(layer_dir: Path, tmp_path: Path) -> None:
    argv_file = tmp_path / "next-wrapper-argv"
    next_wrapper = _script(
        tmp_path / "next-wrapper",
        f'export CHAIN_MARKER=next-wrapper-ran\nprintf "%s\\n" "$@" > {shlex.quote(str(argv_file))}\nexec "$@"\n',
    )
    fn_dir = write_function(tmp_path / "fn", {"app.py": REPORT_ENV})
    env = {"LAMBDA_TRACER_NEXT_WRAPPER": str(next_wrapper)}
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env=env) as fn:
        inv = fn.invoke({})
        expected_argv = [str(fn.python), str(fn.runtime_dir / "bootstrap.py")]
    assert inv.status == "response", inv.error_message
    assert inv.payload["marker"] == "next-wrapper-ran"
    assert (inv.payload["handler"], inv.payload["original"]) == (REDIRECT, "app.handler")
    assert argv_file.read_text().splitlines() == expected_argv  # the runtime's command, passed on untouched
    assert names(inv.documents) == ["## handler"]


CHAIN = 'export CHAIN_MARKER=next-wrapper-ran\nexec "$@"\n'
# LAMBDA_TRACER_NEXT_WRAPPER values that cannot run (the function dir is the runtime's cwd) and why. The
# relative name is an executable in that cwd, which the old `[ -x ]` check let through to `exec`: PATH, 127.
UNRUNNABLE = {
    "relative name": ("chain.sh", "is not an absolute path"),
    "directory": ("{tmp}/a-directory", "is a directory"),
    "not executable": ("{tmp}/not-executable", "is not executable"),
    "missing": ("{tmp}/nope", "does not exist"),
    "long missing path": ("/" + "x" * 5000, "does not exist"),
}


@pytest.mark.parametrize("case", UNRUNNABLE)
def test_a_next_wrapper_that_cannot_run_is_skipped_with_one_line(case: str, layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": REPORT_ENV})
    _script(fn_dir / "chain.sh", CHAIN)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "not-executable").write_text("#!/bin/sh\n" + CHAIN)
    template, why = UNRUNNABLE[case]
    value = template.format(tmp=tmp_path)
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env={"LAMBDA_TRACER_NEXT_WRAPPER": value}) as fn:
        inv = fn.invoke({})
        output = fn.output
    assert inv.status == "response", output
    assert inv.payload["marker"] is None  # the next wrapper did not run...
    assert (inv.payload["handler"], inv.payload["original"]) == (REDIRECT, "app.handler")  # ...ours did
    assert names(inv.documents) == ["## handler"]
    [line] = [line for line in output.splitlines() if "LAMBDA_TRACER_NEXT_WRAPPER" in line]
    shown = value if len(value) <= 60 else value[:60] + "..."  # a long value is cut
    assert line == f"lambda-tracer: LAMBDA_TRACER_NEXT_WRAPPER={shown} {why}; skipping it"


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "y", "t", "on", " true", "true\n", "\tON "])
def test_kill_switch_leaves_the_function_alone(value: str, layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": REPORT_ENV})
    with LocalLambda(fn_dir, "app.handler", opt_dirs=[layer_dir], env={"LAMBDA_TRACER_OFF": value}) as fn:
        inv = fn.invoke({})
        everything = list(fn.daemon.documents)
    assert inv.status == "response", inv.error_message
    assert inv.payload["handler"] == "app.handler"
    assert inv.payload["original"] is None
    assert inv.payload["tracer_loaded"] is False
    assert inv.documents == [] and everything == []


@pytest.mark.parametrize("how", ["wrapper runs itself", "already redirected"])
def test_running_the_wrapper_twice_keeps_the_users_handler(how: str, layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = write_function(tmp_path / "fn", {"app.py": REPORT_ENV})
    ours = shlex.quote(str(layer_dir / "lambda-tracer"))
    if how == "wrapper runs itself":
        # Lambda runs this; it runs our wrapper, whose `exec "$@"` runs our wrapper again.
        options: dict[str, object] = {"wrapper": _script(tmp_path / "outer", f'exec {ours} {ours} "$@"\n')}
        handler = "app.handler"
    else:
        # What a second pass sees: _HANDLER is the redirect and the original is stashed.
        options = {"env": {"LAMBDA_TRACER_ORIGINAL_HANDLER": "app.handler"}}
        handler = REDIRECT
    with LocalLambda(fn_dir, handler, opt_dirs=[layer_dir], **options) as fn:  # type: ignore[arg-type]
        first, second = fn.invoke({}), fn.invoke({})
    for inv, cold in ((first, True), (second, False)):
        assert inv.status == "response", inv.error_message
        assert (inv.payload["handler"], inv.payload["original"]) == (REDIRECT, "app.handler")
        assert names(inv.documents) == ["## handler"]
        assert by_name(inv.documents, "## handler")["annotations"]["ColdStart"] is cold


# Module part of each handler string: what a careless shell would expand, split, or run.
HOSTILE_MODULES = [
    "app handler",
    'it\'s "quoted"',
    "$(touch {marker})",
    "`touch {marker}`",
    "${{HOME}}",
    "*",
    "app\nsecond line",
    "-n",
    "app;touch {marker}",
]


@pytest.mark.parametrize("module", HOSTILE_MODULES)
def test_handler_strings_are_data(module: str, layer_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    handler = module.format(marker=marker) + ".handler"
    fn_dir = write_function(tmp_path / "fn", {"app.py": REPORT_ENV, "zz.handler": "a file a glob would find\n"})
    with LocalLambda(fn_dir, handler, opt_dirs=[layer_dir], wrapper=True) as fn:
        traced = fn.invoke({})
        traced_output = fn.output
    with LocalLambda(fn_dir, handler, wrapper=False) as bare_fn:
        bare = bare_fn.invoke({})

    assert not marker.exists(), "a handler string was evaluated by a shell"
    assert traced.status == "init_error", traced_output
    assert outcome(traced) == outcome(bare)
    literal = handler.rsplit(".", 1)[0]
    assert f"Unable to import module '{literal}'" in (traced.error_message or ""), traced_output


# -- the common case's short path ----------------------------------------------------------------------------------

GENERAL_PATH = "# The general path."
#: Environment variables a function may well have, named as the wrapper's shell variables were once: a variable from the
#: environment is exported, so the wrapper assigning one would hand the runtime its own value.
OWN_NAMES = {
    name: f"the function's {name}"
    for name in (
        *("redirect", "layer_dir", "off", "entry_points", "plugins", "named", "old_ifs"),
        *("name", "next", "why", "newline", "shown", "rest"),
    )
}
# (description, environment added to a bare one, how the wrapper is run: "absolute" or "relative" (cwd: the layer),
# or "bare name" ($0 without a slash), and whether the layer is whole).
SHORT_PATH_CASES = [
    ("the common case", {"_HANDLER": "app.handler"}, "absolute", True),
    ("a hostile handler string", {"_HANDLER": "$(x) `y` *\n-n ;z"}, "absolute", True),
    ("a handler string like a test operator", {"_HANDLER": "!"}, "absolute", True),
    ("set but empty", {"_HANDLER": "a.b", "LAMBDA_TRACER_OFF": "", "DURABLE_EXECUTION_PLUGINS": ""}, "absolute", True),
    ("no handler", {}, "absolute", True),
    ("an empty handler", {"_HANDLER": ""}, "absolute", True),
    ("already redirected", {"_HANDLER": REDIRECT, "LAMBDA_TRACER_ORIGINAL_HANDLER": "a.b"}, "absolute", True),
    ("the user's plugins", {"_HANDLER": "a.b", "DURABLE_EXECUTION_PLUGINS": "otel"}, "absolute", True),
    ("durable off", {"_HANDLER": "a.b", "LAMBDA_TRACER_DURABLE": "false"}, "absolute", True),
    ("kill switch", {"_HANDLER": "a.b", "LAMBDA_TRACER_OFF": "true"}, "absolute", True),
    ("a bad kill switch", {"_HANDLER": "a.b", "LAMBDA_TRACER_OFF": "maybe"}, "absolute", True),
    ("a next wrapper that cannot run", {"_HANDLER": "a.b", "LAMBDA_TRACER_NEXT_WRAPPER": "rel"}, "absolute", True),
    ("run by a relative path", {"_HANDLER": "a.b"}, "relative", True),
    ("run by its bare name", {"_HANDLER": "a/b:c"}, "bare name", True),
    ("the package missing", {"_HANDLER": "a.b"}, "absolute", False),
    ("the function's own variables named like the wrapper's", {"_HANDLER": "a.b", **OWN_NAMES}, "absolute", True),
]


def _run_wrapper(wrapper: Path, how: str, env: dict[str, str]) -> tuple[int, str, str]:
    """(exit status, the environment it hands on, stderr) of ``wrapper /usr/bin/env -0``, as Lambda runs it."""
    command = {"absolute": [str(wrapper)], "relative": ["./" + wrapper.name], "bare name": [wrapper.name]}[how]
    done = subprocess.run(
        ["sh", *command, "/usr/bin/env", "-0"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=wrapper.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    handed_on = "\n".join(sorted(done.stdout.split("\0")))
    here = str(wrapper.parent)  # in PWD and in messages
    return done.returncode, handed_on.replace(here, "<layer>"), done.stderr.replace(here, "<layer>")


@pytest.mark.parametrize(("case", "env", "how", "whole"), SHORT_PATH_CASES, ids=[c[0] for c in SHORT_PATH_CASES])
def test_the_short_path_has_the_general_paths_outcome(
    case: str, env: dict[str, str], how: str, whole: bool, layer_dir: Path, tmp_path: Path
) -> None:
    """The wrapper's first lines handle the common case on their own (the shell parses every line it runs, on every
    cold start); everything else falls through to the general path. Each case's outcome (status, environment handed
    on, stderr) is the general path's alone, run from a copy of the layer whose wrapper has no short path."""
    text = (layer_dir / "lambda-tracer").read_text()
    assert text.count(GENERAL_PATH) == 1
    copies = {}
    for name, wrapper_text in (("ours", text), ("general", "#!/bin/sh\n" + text[text.index(GENERAL_PATH) :])):
        copy = shutil.copytree(layer_dir, tmp_path / name, symlinks=True)
        (copy / "lambda-tracer").write_text(wrapper_text)
        if not whole:
            shutil.rmtree(copy / "python" / "lambda_tracer")
        copies[name] = copy / "lambda-tracer"
    assert _run_wrapper(copies["ours"], how, env) == _run_wrapper(copies["general"], how, env)


def test_the_common_case_takes_the_short_path(layer_dir: Path) -> None:
    """The case the short path is for never reaches the general path (whose first line sets ``redirect``)."""
    env = {"PATH": "/usr/bin:/bin", "_HANDLER": "app.handler"}
    wrapper = str(layer_dir / "lambda-tracer")
    traced = subprocess.run(["sh", "-x", wrapper], env=env, capture_output=True, text=True, timeout=60)
    assert traced.returncode == 0 and "export LAMBDA_TRACER_ORIGINAL_HANDLER" in traced.stderr
    assert "redirect=" not in traced.stderr, traced.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"_HANDLER": "a.b"},  # the short path
        {"_HANDLER": "a.b", "DURABLE_EXECUTION_PLUGINS": "otel, x"},  # the general path, the plugins parsed
        {"_HANDLER": "a.b", "LAMBDA_TRACER_OFF": "maybe", "LAMBDA_TRACER_NEXT_WRAPPER": "n" * 70 + "\nx"},
        {"_HANDLER": "a.b", "LAMBDA_TRACER_NEXT_WRAPPER": "/nonexistent"},
    ],
    ids=["short path", "plugins", "bad switch, long next wrapper", "missing next wrapper"],
)
def test_the_wrapper_hands_the_functions_own_variables_on(env: dict[str, str], layer_dir: Path) -> None:
    """Only the three variables docs/zero-code.md names change: every other one reaches the runtime as it was, even
    one named like a variable of the wrapper's (its own are ``_lowercase``: a Lambda function's start with a letter)."""
    status, handed_on, stderr = _run_wrapper(layer_dir / "lambda-tracer", "absolute", {**env, **OWN_NAMES})
    assert status == 0, stderr
    for name, value in OWN_NAMES.items():
        assert f"{name}={value}" in handed_on.split("\n"), (name, stderr)
    lines = (layer_dir / "lambda-tracer").read_text().splitlines()
    code = "\n".join(re.sub(r"(^|\s)# .*", "", line) for line in lines)  # no comments, then no single-quoted text
    code = re.sub(r"'[^']*'", "''", code)
    assigned = set(re.findall(r"(?:^|[\s;(])([A-Za-z_]\w*)=", code)) | set(re.findall(r"\bfor (\w+) in\b", code))
    ours = {"LAMBDA_TRACER_ORIGINAL_HANDLER", "_HANDLER", "DURABLE_EXECUTION_PLUGINS", "IFS"}
    assert {name for name in assigned if not re.fullmatch(r"_[a-z]\w*", name)} == ours
