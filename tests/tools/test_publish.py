"""``tools/publish.py`` / ``make publish`` against a real moto server over HTTP.

boto3 finds the server through ``AWS_ENDPOINT_URL`` only, as it would find a user's endpoint; every call
goes through the recording proxy of conftest.py, so "refused before any AWS call" and "throttling was
retried" are observed on the wire, not assumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tools_support import ROOT, Proxy, fake_venv, publish

RUNTIMES = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]


@pytest.fixture(scope="session")
def layer_zip(layer_zip: Path) -> Path:
    """conftest.py's copy of the built zip, if publish takes it as it is.

    A machine that could not get every runtime's Python builds a zip without bytecode for some (make layer's
    WARNING), which publish refuses: these tests then skip, saying so, and the layer tests (tests/layer) are
    the ones that fail or skip for the missing interpreter. The refusal itself is tested on doctored zips.
    """
    try:
        publish.check_zip(layer_zip)
    except publish.Refused as error:
        if "no bytecode for" not in str(error):
            raise
        pytest.skip(f"the built layer is not publishable here: {error}")
    return layer_zip


def unique_name() -> str:
    """Layers live as long as the session's moto server: one name per test keeps tests independent."""
    return f"lt-test-{uuid.uuid4().hex[:10]}"


def lambda_client(moto_url: str, region: str) -> Any:
    return boto3.client(
        "lambda",
        region_name=region,
        endpoint_url=moto_url,
        aws_access_key_id="AKIDTESTING000000000",
        aws_secret_access_key="testing-secret",
    )


def zip_version(zip_path: Path) -> str:
    with zipfile.ZipFile(zip_path) as archive:
        return str(json.loads(archive.read("lambda-tracer-layer.json"))["version"])


def run(
    capsys: pytest.CaptureFixture[str], zip_path: Path, *args: str, json_path: Path | None = None
) -> tuple[int, str, str]:
    argv = ["--zip", str(zip_path), *args]
    if json_path is not None:
        argv += ["--json", str(json_path)]
    code = publish.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_publishes_one_version_per_region_with_what_the_zip_declares(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_name()
    code, out, err = run(
        capsys, layer_zip, "--region", "us-east-1", "--region", "eu-west-1", "--layer-name", name,
        json_path=tmp_path / "out.json",
    )  # fmt: skip
    assert code == 0, out + err
    digest = hashlib.sha256(layer_zip.read_bytes()).hexdigest()
    version = zip_version(layer_zip)
    for region in ("us-east-1", "eu-west-1"):
        got = lambda_client(moto_url, region).get_layer_version(LayerName=name, VersionNumber=1)
        assert got["CompatibleRuntimes"] == RUNTIMES
        assert sorted(got["CompatibleArchitectures"]) == ["arm64", "x86_64"]
        assert got["LicenseInfo"] == "MIT-0"
        assert version in got["Description"] and digest[:12] in got["Description"]
        arn = f"arn:aws:lambda:{region}:123456789012:layer:{name}:1"
        assert got["LayerVersionArn"] == arn
        assert f"| {region} | 1 | `{arn}` | no | published |" in out
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["sha256"] == digest and report["version"] == version
    assert [(r["region"], r["ok"], r["version"]) for r in report["results"]] == [
        ("us-east-1", True, 1),
        ("eu-west-1", True, 1),
    ]
    # One publish per region went over the wire, nothing else that writes.
    assert aws_env.publish_requests() == 2
    assert {method for method, _ in aws_env.requests} == {"POST"}


def test_publishing_again_adds_a_version_and_keeps_the_old_one(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_name()
    for _ in range(2):
        code, out, err = run(capsys, layer_zip, "--region", "us-west-2", "--layer-name", name, json_path=tmp_path / "o")
        assert code == 0, out + err
    assert f"layer:{name}:2` | no | published |" in out
    client = lambda_client(moto_url, "us-west-2")
    versions = client.list_layer_versions(LayerName=name)["LayerVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2]
    assert client.get_layer_version(LayerName=name, VersionNumber=1)["LicenseInfo"] == "MIT-0"


def test_public_grants_get_layer_version_to_everyone_and_private_does_not(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    public, private = unique_name(), unique_name()
    assert run(capsys, layer_zip, "--region", "us-east-1", "--layer-name", private, json_path=tmp_path / "a")[0] == 0
    code, out, _ = run(
        capsys, layer_zip, "--region", "us-east-1", "--layer-name", public, "--public", json_path=tmp_path / "b"
    )
    assert code == 0
    assert f"layer:{public}:1` | yes | published |" in out
    client = lambda_client(moto_url, "us-east-1")
    statements = json.loads(client.get_layer_version_policy(LayerName=public, VersionNumber=1)["Policy"])["Statement"]
    assert [(s["Principal"], s["Action"], s["Effect"], s["Resource"]) for s in statements] == [
        ("*", "lambda:GetLayerVersion", "Allow", f"arn:aws:lambda:us-east-1:123456789012:layer:{public}:1")
    ]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.get_layer_version_policy(LayerName=private, VersionNumber=1)


def test_a_bad_region_fails_alone_and_the_exit_status_says_so(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed name is never sent; a well-formed unknown one fails server-side: both are rows, not crashes."""
    name = unique_name()
    code, out, err = run(
        capsys, layer_zip, "--region", "us_east_1, ap-south-1 xx-nowhere-1", "--layer-name", name,
        "--max-attempts", "1", json_path=tmp_path / "out.json",
    )  # fmt: skip
    assert code == 1
    assert "| us_east_1 | - | - | no | FAILED: 'us_east_1' is not a region name" in out
    assert f"| ap-south-1 | 1 | `arn:aws:lambda:ap-south-1:123456789012:layer:{name}:1` | no | published |" in out
    row = next(line for line in out.splitlines() if line.startswith("| xx-nowhere-1 |"))
    assert "FAILED: " in row and "<" not in row  # one readable line, not moto's HTML error page
    assert "failed in 2 of 3 region(s): us_east_1, xx-nowhere-1" in err
    assert lambda_client(moto_url, "ap-south-1").get_layer_version(LayerName=name, VersionNumber=1)["Version"] == 1
    results = json.loads((tmp_path / "out.json").read_text())["results"]
    outcomes = [(r["region"], r["ok"]) for r in results]
    assert outcomes == [("us_east_1", False), ("ap-south-1", True), ("xx-nowhere-1", False)]


def test_throttling_is_retried_until_it_succeeds(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_name()
    aws_env.throttle = 2
    code, out, err = run(capsys, layer_zip, "--region", "eu-central-1", "--layer-name", name, json_path=tmp_path / "o")
    assert code == 0, out + err
    assert aws_env.throttled == 2 and aws_env.publish_requests() == 3
    versions = lambda_client(moto_url, "eu-central-1").list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [1]  # throttled requests were not processed: no extra version


def test_throttling_that_does_not_stop_fails_that_region_clearly(
    aws_env: Proxy, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env.throttle = 1000
    code, out, _ = run(
        capsys, layer_zip, "--region", "eu-central-1", "--layer-name", unique_name(), "--max-attempts", "2",
        json_path=tmp_path / "o",
    )  # fmt: skip
    assert code == 1
    assert aws_env.publish_requests() == 2
    assert "FAILED: TooManyRequestsException: Rate exceeded (still throttled after 2 attempts" in out


def test_aws_profile_gives_credentials_and_default_region(
    aws_env: Proxy, monkeypatch: pytest.MonkeyPatch, moto_url: str, layer_zip: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile tracer]\nregion = sa-east-1\naws_access_key_id = AKIDPROFILE00000000\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "tracer")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    name = unique_name()
    code, out, err = run(capsys, layer_zip, "--layer-name", name, json_path=tmp_path / "o")
    assert code == 0, out + err
    assert f"| sa-east-1 | 1 | `arn:aws:lambda:sa-east-1:123456789012:layer:{name}:1` |" in out


# ---------------------------------------------------------------- refusals: nothing reaches AWS


Change = Callable[[zipfile.ZipInfo, bytes], "tuple[zipfile.ZipInfo, bytes] | None"]


def rebuild(source: Path, target: Path, change: Change) -> Path:
    """A copy of the layer zip with each entry passed through ``change`` (``None`` drops it)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            changed = change(info, src.read(info))
            if changed is not None:
                dst.writestr(*changed)
    return target


def _drop(name: str) -> Change:
    return lambda info, data: None if info.filename == name else (info, data)


def _not_executable(info: zipfile.ZipInfo, data: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    if info.filename == "lambda-tracer":
        info.external_attr = (0o100644 << 16) | (info.external_attr & 0xFFFF)
    return info, data


def _source_only(minor: str) -> Change:
    """The zip as the build makes it without that Python: no .pyc for it, and the manifest says so."""
    tag = f".cpython-{minor.replace('.', '')}.pyc"

    def change(info: zipfile.ZipInfo, data: bytes) -> tuple[zipfile.ZipInfo, bytes] | None:
        if info.filename.endswith(tag):
            return None
        if info.filename == "lambda-tracer-layer.json":
            manifest = json.loads(data)
            manifest["bytecode"]["compiled_by"].pop(minor, None)
            manifest["bytecode"]["source_only"] = sorted({*manifest["bytecode"]["source_only"], minor})
            return info, json.dumps(manifest, indent=2).encode()
        return info, data

    return change


def _broken_package(info: zipfile.ZipInfo, data: bytes) -> tuple[zipfile.ZipInfo, bytes] | None:
    if info.filename.startswith("python/lambda_tracer/__pycache__/tracer."):
        return None  # the bytecode is unchecked-hash: it would be used instead of the broken source
    if info.filename == "python/lambda_tracer/tracer.py":
        return info, b"raise ImportError('broken on purpose')\n"
    return info, data


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        ("missing", None, "not found: build it first with `make layer`"),
        ("no-wrapper", _drop("lambda-tracer"), "no lambda-tracer exec wrapper at the zip root"),
        ("wrapper-not-executable", _not_executable, "lambda-tracer is not executable (mode 0o644)"),
        ("no-handler", _drop("python/lambda_tracer/handler.py"), "python/lambda_tracer/handler.py is missing"),
        ("not-importable", _broken_package, "does not import from the zip: ImportError: broken on purpose"),
        (
            "source-only",
            _source_only("3.14"),
            "no bytecode for python3.14 (its manifest lists it under bytecode.source_only): functions on that "
            "runtime would compile the layer at every cold start. Rebuild it with `make layer` where that Python "
            "is available (3.14 is fetched from Debian), or pass --allow-source-only",
        ),
        (
            # The files decide, not the manifest: this one still claims 3.12 bytecode everywhere.
            "one-pyc-missing",
            _drop("python/lambda_tracer/__pycache__/handler.cpython-312.pyc"),
            "no bytecode for python3.12 in 1 of ",
        ),
    ],
)
def test_a_bad_zip_is_refused_before_any_aws_call(
    aws_env: Proxy, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
    change: Change | None, message: str,
) -> None:  # fmt: skip
    zip_path = tmp_path / f"{case}.zip"
    if change is not None:
        rebuild(layer_zip, zip_path, change)
    code, _, err = run(capsys, zip_path, "--region", "us-east-1", json_path=tmp_path / "out.json")
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert aws_env.requests == []
    assert not (tmp_path / "out.json").exists()


def test_allow_source_only_publishes_and_says_what_is_missing(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zip_path = rebuild(layer_zip, tmp_path / "source-only.zip", _source_only("3.14"))
    name = unique_name()
    code, out, err = run(
        capsys, zip_path, "--region", "us-east-1", "--layer-name", name, "--allow-source-only",
        json_path=tmp_path / "out.json",
    )  # fmt: skip
    assert code == 0, out + err
    assert "WARNING" in err and "no bytecode for python3.14 (--allow-source-only)" in err
    got = lambda_client(moto_url, "us-east-1").get_layer_version(LayerName=name, VersionNumber=1)
    assert got["CompatibleRuntimes"] == RUNTIMES  # what the layer supports; only slower to start on 3.14
    assert got["Description"].endswith(", no bytecode for python3.14)")
    assert json.loads((tmp_path / "out.json").read_text())["source_only_runtimes"] == ["python3.14"]


def test_the_unmodified_copy_of_the_zip_is_accepted(
    aws_env: Proxy, layer_zip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control for the refusals: ``rebuild`` itself does not break the zip."""
    zip_path = rebuild(layer_zip, tmp_path / "same.zip", lambda info, data: (info, data))
    code, out, err = run(capsys, zip_path, "--region", "us-east-1", "--layer-name", unique_name())
    assert code == 0, out + err
    assert (tmp_path / "published-layers.json").is_file()  # the default JSON goes next to the zip


def test_no_credentials_is_refused_before_any_aws_call(
    aws_env: Proxy, monkeypatch: pytest.MonkeyPatch, layer_zip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run(capsys, layer_zip, "--region", "us-east-1")
    assert code == 2 and "no AWS credentials found" in err
    assert aws_env.requests == []


# ---------------------------------------------------------------- make publish


def test_make_publish_runs_the_module_with_regions_and_public(
    aws_env: Proxy, moto_url: str, layer_zip: Path, tmp_path: Path
) -> None:
    """The real target, with the venv swapped for this interpreter and the zip for a copy (so make builds nothing)."""
    venv = fake_venv(tmp_path)
    python = venv / "bin" / "python"
    zip_copy = shutil.copy(layer_zip, tmp_path / "layer.zip")
    name = unique_name()
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "publish", f"VENV={venv}", f"LAYER_ZIP={zip_copy}",
         "REGIONS=us-east-1 eu-west-1", "PUBLIC=1", f"LAYER_NAME={name}"],
        capture_output=True, text=True, timeout=120, env=os.environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    command = f"{python} tools/publish.py --zip {zip_copy} --region us-east-1 --region eu-west-1 --public"
    assert done.stdout.splitlines()[0] == f"{command} --layer-name {name}"  # echoed on one line
    for region in ("us-east-1", "eu-west-1"):
        client = lambda_client(moto_url, region)
        assert client.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"]
    assert json.loads((tmp_path / "published-layers.json").read_text())["layer_name"] == name
