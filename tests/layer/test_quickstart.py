"""The README's quick starts work when copied as they are.

- SAM, in a folder laid out as the README says: ``sam deploy`` needs an AWS account, so the test stops after
  ``sam validate --lint`` and ``sam build`` (both offline) and checks that the build holds the layer zip's
  contents and the function's code.
- The AWS CLI block, run by bash exactly as written, with the pinned AWS CLI, against a moto server on
  127.0.0.1 standing in for AWS (``make layer`` is a shim that finds the session's layer zip in dist/).
- The in-code snippet, as a function's ``app.py`` under the local runtime, with the layer on ``/opt`` and no
  exec wrapper.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from e2e.support import checked_invoke
from layer_support import ROOT
from test_sam import offline_prefix

from lambda_tracer_local.daemon import by_name, subsegments
from lambda_tracer_local.runtime import LocalLambda

README = ROOT / "README.md"
REGION = "eu-central-1"
FUNCTION = "my-fn"
LAYER_NAME = "lambda-tracer"
RUNTIMES = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]


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


# -- the AWS CLI block --------------------------------------------------------------------------------------------


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server (its own thread, a free port of 127.0.0.1) standing in for AWS; yields its URL.

    moto 5.2.5 keeps ``TracingConfig`` from CreateFunction but drops it from UpdateFunctionConfiguration: the
    patch applies it as Lambda does, so the test reads the tracing mode back from the server like the rest.
    """
    from moto.awslambda.models import LambdaFunction
    from moto.server import ThreadedMotoServer

    update_configuration = LambdaFunction.update_configuration

    def with_tracing(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "TracingConfig" in config_updates:
            self.tracing_config = config_updates["TracingConfig"]
        return update_configuration(self, config_updates)

    monkeypatch.setattr(LambdaFunction, "update_configuration", with_tracing)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIDTESTING000000000",
        aws_secret_access_key="testing-secret",
    )


def _existing_function(endpoint: str) -> None:
    """``my-fn`` as the README expects it: an existing function (moto's backends outlive a server: start clean)."""
    lam, iam = _client("lambda", endpoint), _client("iam", endpoint)
    try:
        lam.delete_function(FunctionName=FUNCTION)
    except lam.exceptions.ResourceNotFoundException:
        pass
    statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    try:
        role = iam.create_role(RoleName="my-fn-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="my-fn-role")["Role"]["Arn"]
    code = _zip_bytes({"app.py": "def handler(event, context):\n    return {'ok': 1}\n"})
    lam.create_function(
        FunctionName=FUNCTION, Runtime="python3.13", Role=role, Handler="app.handler", Code={"ZipFile": code}
    )


def _zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _layer_versions(endpoint: str) -> set[str]:
    versions = _client("lambda", endpoint).list_layer_versions(LayerName=LAYER_NAME)["LayerVersions"]
    return {version["LayerVersionArn"] for version in versions}


def test_cli_quick_start_as_copied(aws_cli: Path, moto_aws: str, layer_zip: Path, tmp_path: Path) -> None:
    block = _block("cli")
    assert block.splitlines()[0] == "make layer"
    checkout = tmp_path / "lambda-tracer"  # where the README's reader runs it: a checkout after `make layer`
    (checkout / "dist").mkdir(parents=True)
    shutil.copy(layer_zip, checkout / "dist" / "lambda-tracer-layer.zip")
    shims, calls = tmp_path / "shims", tmp_path / "make-calls"
    shims.mkdir()
    (shims / "make").write_text(
        "#!/bin/sh\n"
        "# `make layer`, already done: the session's layer zip is in dist/.\n"
        f'echo "$*" >> "{calls}"\n'
        '[ "$*" = layer ] && [ -s dist/lambda-tracer-layer.zip ] || { echo "make shim: make $*" >&2; exit 2; }\n'
    )
    (shims / "make").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{shims}:{aws_cli.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": moto_aws,
        "AWS_ACCESS_KEY_ID": "AKIDTESTING000000000",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    _existing_function(moto_aws)
    before = _layer_versions(moto_aws)

    bash = shutil.which("bash")
    assert bash, "no bash on PATH"
    done = subprocess.run(
        [bash, "-euo", "pipefail", "-c", block],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, f"the README's CLI block failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert calls.read_text().splitlines() == ["layer"]
    [layer_arn] = _layer_versions(moto_aws) - before
    lam = _client("lambda", moto_aws)
    config = lam.get_function_configuration(FunctionName=FUNCTION)
    assert [layer["Arn"] for layer in config["Layers"]] == [layer_arn]
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["Environment"]["Variables"] == {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambda-tracer",
        "POWERTOOLS_SERVICE_NAME": "payment",
    }
    version = lam.get_layer_version(LayerName=LAYER_NAME, VersionNumber=int(layer_arn.rsplit(":", 1)[1]))
    assert version["LayerVersionArn"] == layer_arn
    data = layer_zip.read_bytes()
    assert version["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert version["Content"]["CodeSize"] == len(data)
    assert version["CompatibleRuntimes"] == RUNTIMES
    assert version["CompatibleArchitectures"] == ["x86_64", "arm64"]
    assert version["LicenseInfo"] == "MIT-0"


# -- the in-code snippet ------------------------------------------------------------------------------------------


def test_in_code_quick_start_as_copied(layer_dir: Path, tmp_path: Path) -> None:
    fn_dir = tmp_path / "fn"
    fn_dir.mkdir()
    (fn_dir / "app.py").write_text(_block("in-code"))
    env = {"POWERTOOLS_SERVICE_NAME": "payment"}
    with LocalLambda(fn_dir, "app.lambda_handler", opt_dirs=[layer_dir], wrapper=False, env=env) as fn:
        inv = checked_invoke(fn, LocalLambda.invoke, {"charge_id": "ch_42"})

    assert inv.status == "response", fn.output
    assert inv.payload == "dummy payment collected for charge: ch_42"
    assert sorted(doc["name"] for doc in subsegments(inv.documents)) == ["## app.collect_payment", "## lambda_handler"]
    handler = by_name(inv.documents, "## lambda_handler")
    assert handler["trace_id"] == inv.trace_id and handler["parent_id"] == inv.parent_id
    assert handler["annotations"]["Service"] == "payment" and handler["annotations"]["ColdStart"] is True
    method = by_name(inv.documents, "## app.collect_payment")
    assert method["parent_id"] == handler["id"]
    assert method["annotations"] == {"PaymentId": "ch_42"}
    assert method["metadata"] == {"payment": {"app.collect_payment response": inv.payload}}
