"""Publish the built layer zip as a new layer version in one or more AWS regions (``make publish``).

    python tools/publish.py --region us-east-1 --region eu-west-1 [--public]

A maintainer's tool: it lives in tools/, not in the ``lambda-tracer`` wheel (it needs botocore, which users of
the package need not have), and reuses the layer checks of this checkout's ``lambda_tracer_local.layers``.

Publishing only ever adds a version: nothing is deleted or overwritten, so a function pinned to an
earlier ARN keeps working. The zip is checked before any AWS call (wrapper at the root and executable,
package present and importable, bytecode for every runtime it claims), because a broken layer would
otherwise only show up as failing cold starts in every function that attaches it. A zip without bytecode
for one of its runtimes (built where that Python was missing: its manifest lists it under
``bytecode.source_only``) works but compiles the layer at every cold start on that runtime, so it is
refused unless ``--allow-source-only`` is given. boto3's own configuration applies unchanged (credential
chain, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``). Each region succeeds or fails on its own; the exit status
is 1 if any failed, 2 if nothing was attempted.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "local") not in sys.path:
    sys.path.insert(0, str(ROOT / "local"))  # this checkout's lambda_tracer_local, whatever is installed

from lambda_tracer_local.layers import (  # noqa: E402
    UnsafeLayerError,
    check_layer,
    open_layer,
    read_entry,
    unpack_layer,
)

DEFAULT_ZIP = Path("dist") / "lambda-tracer-layer.zip"
DEFAULT_JSON = Path("dist") / "published-layers.json"
DEFAULT_LAYER_NAME = "lambda-tracer"
WRAPPER_NAME = "lambda-tracer"
MANIFEST_NAME = "lambda-tracer-layer.json"
PACKAGE = "python/lambda_tracer"
#: Used when the zip carries no manifest (tools/build_layer.py writes one with the same values).
DEFAULT_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
DEFAULT_ARCHITECTURES = ("x86_64", "arm64")
LICENSE = "MIT-0"
PUBLIC_STATEMENT_ID = "lambda-tracer-public"
#: The manifest and ``__init__.py`` are read into memory: a layer's are a few kB.
MAX_SMALL = 1024 * 1024
#: Lambda refuses a direct upload (``Content.ZipFile``) bigger than this.
MAX_DIRECT_UPLOAD = 50 * 1024 * 1024
#: us-east-1, us-gov-west-1, cn-north-1, ap-southeast-5, us-isob-east-1, ...
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
THROTTLING_CODES = {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded"}
DEFAULT_MAX_ATTEMPTS = 8


class Refused(Exception):
    """Nothing can be published (bad zip, no credentials, ...): one line, exit status 2."""


@dataclass(frozen=True)
class Layer:
    """What is about to be published, read from the zip itself so it cannot disagree with it."""

    path: Path
    content: bytes
    version: str
    sha256: str
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    #: Runtimes the zip claims but has no (or incomplete) bytecode for: published only with --allow-source-only.
    source_only: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        no_bytecode = f", no bytecode for {' '.join(self.source_only)}" if self.source_only else ""
        return f"lambda-tracer {self.version}: X-Ray tracing for Python (zip sha256 {self.sha256[:12]}{no_bytecode})"

    @property
    def code_sha256(self) -> str:
        """The form Lambda reports back in ``Content.CodeSha256`` (base64 of the digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


@dataclass
class Result:
    region: str
    ok: bool = False
    version: int | None = None
    layer_version_arn: str | None = None
    public: bool = False
    error: str | None = None


# ---------------------------------------------------------------- the zip


def check_zip(path: Path, python: str = sys.executable, allow_source_only: bool = False) -> Layer:
    """Read and self-check the layer zip; raise ``Refused`` saying what is wrong with it.

    ``allow_source_only``: accept a zip without bytecode for some of its runtimes (``Layer.source_only``).
    """
    if not path.is_file():
        raise Refused(f"{path} not found: build it first with `make layer` (or pass --zip PATH)")
    content = path.read_bytes()
    if len(content) > MAX_DIRECT_UPLOAD:
        raise Refused(f"{path} is {len(content)} bytes, over Lambda's {MAX_DIRECT_UPLOAD}-byte direct upload limit")
    if not zipfile.is_zipfile(path):
        raise Refused(f"{path} is not a zip file")
    try:
        check_layer(path)  # before anything reads an entry, and before the import check unpacks it
        return _check_checked_zip(path, content, python, allow_source_only)
    except UnsafeLayerError as error:
        raise Refused(str(error))


def _check_checked_zip(path: Path, content: bytes, python: str, allow_source_only: bool) -> Layer:
    with open_layer(path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        wrapper = infos.get(WRAPPER_NAME)
        if wrapper is None:
            raise Refused(f"{path}: no {WRAPPER_NAME} exec wrapper at the zip root")
        if not (wrapper.external_attr >> 16) & 0o111 or stat.S_ISDIR(wrapper.external_attr >> 16):
            raise Refused(
                f"{path}: {WRAPPER_NAME} is not executable (mode {oct((wrapper.external_attr >> 16) & 0o7777)})"
            )
        for name in ("__init__.py", "handler.py"):
            if f"{PACKAGE}/{name}" not in infos:
                raise Refused(f"{path}: {PACKAGE}/{name} is missing")
        manifest = _manifest(archive, infos, path)
        init_version = _init_version(
            read_entry(archive, f"{PACKAGE}/__init__.py", MAX_SMALL).decode("utf-8", "replace")
        )
        names = set(infos)
    version = str(manifest.get("version") or init_version or "")
    if not version:
        raise Refused(f"{path}: no version in {MANIFEST_NAME} nor __version__ in {PACKAGE}/__init__.py")
    if init_version and version != init_version:
        raise Refused(f"{path}: {MANIFEST_NAME} says version {version} but {PACKAGE}/__init__.py says {init_version}")
    _check_importable(path, version, python)
    runtimes = tuple(f"python{v}" for v in manifest.get("python_versions") or ()) or DEFAULT_RUNTIMES
    architectures = tuple(manifest.get("architectures") or ()) or DEFAULT_ARCHITECTURES
    gaps = _bytecode_gaps(names, runtimes, manifest)
    if gaps and not allow_source_only:
        raise Refused(
            f"{path}: no bytecode for {'; '.join(gaps.values())}: functions on "
            f"{'that runtime' if len(gaps) == 1 else 'those runtimes'} would compile the layer at every cold start. "
            f"Rebuild it with `make layer` where that Python is available (3.14 is fetched from Debian), or pass "
            f"--allow-source-only (make publish PUBLISH_ARGS=--allow-source-only)"
        )
    digest = hashlib.sha256(content).hexdigest()
    return Layer(path, content, version, digest, runtimes, architectures, tuple(gaps))


def _bytecode_gaps(names: set[str], runtimes: tuple[str, ...], manifest: dict[str, Any]) -> dict[str, str]:
    """Runtime -> what is missing, for each claimed runtime without a ``.pyc`` beside every ``.py`` of the layer.

    Read from the files themselves: the manifest's ``bytecode.source_only`` is only quoted.
    """
    bytecode = manifest.get("bytecode")
    listed = bytecode.get("source_only") if isinstance(bytecode, dict) else None
    declared = {f"python{v}" for v in listed} if isinstance(listed, list) else set()
    sources = sorted(n for n in names if n.startswith("python/") and n.endswith(".py"))
    gaps: dict[str, str] = {}
    for runtime in runtimes:
        match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
        if not match:
            continue
        tag = f".cpython-{match[1]}{match[2]}.pyc"
        missing = [
            src
            for src in sources
            if f"{src.rpartition('/')[0]}/__pycache__/{src.rpartition('/')[2][:-3]}{tag}" not in names
        ]
        if len(missing) == len(sources):
            note = " (its manifest lists it under bytecode.source_only)" if runtime in declared else ""
            gaps[runtime] = f"{runtime}{note}"
        elif missing:
            gaps[runtime] = f"{runtime} in {len(missing)} of {len(sources)} modules (e.g. {missing[0]})"
    return gaps


def _manifest(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], path: Path) -> dict[str, Any]:
    if MANIFEST_NAME not in infos:
        return {}
    try:
        manifest = json.loads(read_entry(archive, MANIFEST_NAME, MAX_SMALL))
    except ValueError as error:
        raise Refused(f"{path}: {MANIFEST_NAME} is not valid JSON ({error})")
    if not isinstance(manifest, dict):
        raise Refused(f"{path}: {MANIFEST_NAME} is not a JSON object")
    return manifest


def _init_version(source: str) -> str | None:
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", source, re.MULTILINE)
    return match[1] if match else None


def _check_importable(path: Path, version: str, python: str) -> None:
    """Import the package from the unpacked zip in a clean interpreter, as the runtime would.

    ``-I`` ignores ``PYTHONPATH`` and user site-packages, and ``LAMBDA_TASK_ROOT`` is removed so the
    tracer stays off and needs no X-Ray daemon. The reported ``__file__`` proves the import came from the
    zip, not from a ``lambda_tracer`` installed in this environment.
    """
    probe = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import lambda_tracer, lambda_tracer.tracer; "
        "print(json.dumps([lambda_tracer.__file__, lambda_tracer.__version__]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_LAMBDA_", "_HANDLER"))}
    with tempfile.TemporaryDirectory(prefix="lambda-tracer-publish-") as tmp:
        python_dir = unpack_layer(path, tmp) / "python"
        try:
            done = subprocess.run(
                [python, "-I", "-c", probe, str(python_dir)],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise Refused(f"cannot run {python} to check the zip: {error}")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise Refused(f"{path}: lambda_tracer does not import from the zip: {last}")
        try:
            file, imported_version = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Refused(f"{path}: unexpected output of the import check: {done.stdout!r}")
        if not Path(file).resolve().is_relative_to(python_dir.resolve()):
            raise Refused(f"{path}: lambda_tracer was imported from {file}, not from the zip")
        if imported_version != version:
            raise Refused(f"{path}: the zip's lambda_tracer.__version__ is {imported_version}, expected {version}")


# ---------------------------------------------------------------- publishing


def publish_region(client: Any, region: str, layer: Layer, layer_name: str, public: bool) -> Result:
    """Publish one version in one region; never raises (the error becomes the result's one-line reason)."""
    from botocore.exceptions import BotoCoreError, ClientError

    result = Result(region)
    try:
        response = client.publish_layer_version(
            LayerName=layer_name,
            Description=layer.description,
            Content={"ZipFile": layer.content},
            CompatibleRuntimes=list(layer.runtimes),
            CompatibleArchitectures=list(layer.architectures),
            LicenseInfo=LICENSE,
        )
    except ClientError as error:
        result.error = _client_error(error)
        return result
    except BotoCoreError as error:
        result.error = _one_line(str(error))
        return result
    result.version = int(response["Version"])
    result.layer_version_arn = str(response["LayerVersionArn"])
    uploaded = (response.get("Content") or {}).get("CodeSha256")
    if uploaded and uploaded != layer.code_sha256:
        result.error = f"Lambda reports CodeSha256 {uploaded}, the zip's is {layer.code_sha256}: upload corrupted"
        return result
    if public:
        try:
            client.add_layer_version_permission(
                LayerName=layer_name,
                VersionNumber=result.version,
                StatementId=PUBLIC_STATEMENT_ID,
                Action="lambda:GetLayerVersion",
                Principal="*",
            )
        except ClientError as error:
            result.error = f"published but NOT made public: {_client_error(error)}"
            return result
        except BotoCoreError as error:
            result.error = f"published but NOT made public: {_one_line(str(error))}"
            return result
        result.public = True
    result.ok = True
    return result


def _client_error(error: Any) -> str:
    info = error.response.get("Error", {})
    code = str(info.get("Code") or "Error")
    message = _one_line(str(info.get("Message") or error))
    if code in THROTTLING_CODES:
        attempts = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        return f"{code}: {message} (still throttled after {attempts} attempts; retry later or raise --max-attempts)"
    return f"{code}: {message}"


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_regions(values: list[str]) -> list[str]:
    """``--region a --region "b c" --region d,e`` -> [a, b, c, d, e], duplicates dropped, order kept."""
    regions: list[str] = []
    for value in values:
        for region in re.split(r"[\s,]+", value.strip()):
            if region and region not in regions:
                regions.append(region)
    return regions


def publish(
    layer: Layer, regions: list[str], layer_name: str, public: bool, session: Any, max_attempts: int
) -> list[Result]:
    """Every region in parallel (each has its own client, so its own retry budget); results in input order."""
    from botocore.config import Config

    # total_max_attempts counts the first try (retries' "max_attempts" would not), like AWS_MAX_ATTEMPTS does.
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts})
    results: dict[str, Result] = {}
    clients: dict[str, Any] = {}
    for region in regions:
        if not REGION_RE.match(region):
            results[region] = Result(region, error=f"{region!r} is not a region name (like us-east-1): not attempted")
        else:
            clients[region] = session.create_client("lambda", region_name=region, config=config)
    if clients:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(clients))) as pool:
            futures = {
                region: pool.submit(publish_region, client, region, layer, layer_name, public)
                for region, client in clients.items()
            }
            for region, future in futures.items():
                results[region] = future.result()
    return [results[region] for region in regions]


def markdown_table(results: list[Result]) -> str:
    rows = ["| region | version | LayerVersionArn | public | result |", "|---|---|---|---|---|"]
    for r in results:
        outcome = "published" if r.ok else f"FAILED: {r.error}"
        version = "-" if r.version is None else str(r.version)
        arn = f"`{r.layer_version_arn}`" if r.layer_version_arn else "-"
        rows.append(f"| {r.region} | {version} | {arn} | {'yes' if r.public else 'no'} | {outcome} |")
    return "\n".join(rows)


def report(layer: Layer, layer_name: str, results: list[Result]) -> dict[str, Any]:
    return {
        "layer_name": layer_name,
        "zip": str(layer.path),
        "version": layer.version,
        "sha256": layer.sha256,
        "description": layer.description,
        "compatible_runtimes": list(layer.runtimes),
        "compatible_architectures": list(layer.architectures),
        "source_only_runtimes": list(layer.source_only),
        "license": LICENSE,
        "results": [asdict(result) for result in results],
    }


# ---------------------------------------------------------------- command line


def _default_zip() -> Path:
    """``dist/`` of the current directory, else of this repository (``make publish`` runs at the root)."""
    return DEFAULT_ZIP if DEFAULT_ZIP.is_file() else ROOT / DEFAULT_ZIP


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tools/publish.py",
        description="Publish the lambda-tracer layer zip as a new layer version in each region.",
    )
    parser.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="REGION",
        help="repeatable; spaces or commas separate several (default: the configured AWS region)",
    )
    parser.add_argument("--zip", type=Path, default=None, help=f"layer zip (default: {DEFAULT_ZIP})")
    parser.add_argument("--layer-name", default=DEFAULT_LAYER_NAME, help="default: %(default)s")
    parser.add_argument("--public", action="store_true", help="grant lambda:GetLayerVersion to every AWS account")
    parser.add_argument("--profile", default=None, help="AWS profile (default: AWS_PROFILE / the default chain)")
    parser.add_argument(
        "--json", type=Path, default=None, help=f"results as JSON (default: {DEFAULT_JSON.name} next to the zip)"
    )
    parser.add_argument(
        "--allow-source-only",
        action="store_true",
        help="publish even if the zip lacks bytecode for some of its runtimes (they would compile the layer at "
        "every cold start); refused by default",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help="attempts per call, throttling included (botocore standard retries; default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.max_attempts < 1:
        parser.error("--max-attempts must be at least 1")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,140}", args.layer_name):
        parser.error(f"--layer-name {args.layer_name!r}: letters, digits, '-' and '_' only")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    zip_path: Path = args.zip if args.zip is not None else _default_zip()
    try:
        layer = check_zip(zip_path, allow_source_only=args.allow_source_only)
        session = _session(args.profile)
        regions = split_regions(args.region) or [_default_region(session)]
    except Refused as error:
        print(f"publish: refused: {error}", file=sys.stderr)
        return 2
    if layer.source_only:
        print(
            f"publish: WARNING: {layer.path} has no bytecode for {', '.join(layer.source_only)} "
            f"(--allow-source-only): functions on it compile the layer at every cold start",
            file=sys.stderr,
        )
    print(f"Publishing {layer.path} as {args.layer_name} ({layer.description}) in {', '.join(regions)}", flush=True)
    results = publish(layer, regions, args.layer_name, args.public, session, args.max_attempts)
    print()
    print(markdown_table(results))
    json_path: Path = args.json if args.json is not None else zip_path.parent / DEFAULT_JSON.name
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report(layer, args.layer_name, results), indent=2) + "\n")
    failed = [r.region for r in results if not r.ok]
    print(f"\nresults written to {json_path}")
    if failed:
        print(f"publish: failed in {len(failed)} of {len(results)} region(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _session(profile: str | None) -> Any:
    """A botocore session (boto3's, without the resource layer) with credentials, or ``Refused`` up front.

    It resolves the same configuration boto3 does: ``AWS_PROFILE``, the credential chain, ``AWS_REGION``,
    ``AWS_ENDPOINT_URL``, ``~/.aws/config``.
    """
    from botocore.exceptions import BotoCoreError
    from botocore.session import Session

    try:
        session = Session(profile=profile)
        credentials = session.get_credentials()
    except BotoCoreError as error:
        raise Refused(_one_line(str(error)))
    if credentials is None:
        raise Refused("no AWS credentials found (environment, AWS_PROFILE/--profile, SSO, instance role...)")
    return session


def _default_region(session: Any) -> str:
    region = session.get_config_variable("region")
    if not region:
        raise Refused("no region: pass --region (make publish REGIONS=...) or set AWS_REGION")
    return str(region)


if __name__ == "__main__":
    sys.exit(main())
