"""The README's SAM quick start works when copied as it is, in a folder laid out as the README says.

``sam deploy`` needs an AWS account, so the test stops after ``sam validate --lint`` and ``sam build`` (both
offline), and checks that the build holds the layer zip's contents and the function's code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from layer_support import ROOT
from test_sam import offline_prefix

README = ROOT / "README.md"


def _block(marker: str) -> str:
    found = re.search(rf"<!-- quickstart:{marker} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert found, f"README has no quickstart:{marker} block"
    return found.group(1)


def test_sam_quick_start_as_copied(sam: tuple[Path, dict[str, str]], layer_zip: Path, tmp_path: Path) -> None:
    sam_exe, env = sam
    project = tmp_path / "my-service"
    (project / "src").mkdir(parents=True)
    (project / "template.yaml").write_text(_block("sam"))
    shutil.copy(layer_zip, project / "lambda-tracer-layer.zip")
    (project / "src" / "app.py").write_text("def handler(event, context):\n    return {'ok': 1}\n")
    commands = [line.split() for line in _block("sam-commands").splitlines() if line.strip()]
    assert commands[-1][:2] == ["sam", "deploy"]
    for command in commands[:-1]:  # deploying needs an account
        done = subprocess.run(
            [*offline_prefix(), str(sam_exe), *command[1:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    built = project / ".aws-sam" / "build"
    assert (built / "MyFunction" / "app.py").is_file()
    with zipfile.ZipFile(layer_zip) as archive:
        assert "lambda-tracer" in archive.namelist()
    template = (built / "template.yaml").read_text()
    assert "lambda-tracer-layer.zip" in template  # the layer is the zip itself, uploaded by sam deploy
