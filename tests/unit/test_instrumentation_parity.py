"""Our instrumentation against the X-Ray SDK's patches: the same calls, the same documents, field by field.

instrumentation_driver.py makes every call (each instrumented client through 2xx, 4xx, 429, 5xx and a connection
error; botocore against a local stub and, against a moto server, the services whose parameters the SDK records)
twice, each time in a process of its own: once with our instrumentation, once with the SDK's patches (as the layer
used them until now, recording through our bridge), so the SDK's global patches never touch this process. Both
send to one daemon stand-in; each call has its own trace header, so its documents are found by trace id.

Ids and times aside, every field must be equal, except the deliberate differences listed in DIFFERENCES (each
one must also show up, so the list stays true). The outgoing ``X-Amzn-Trace-Id`` each server received is compared
the same way (the ``<header>`` field), and so is the number of documents per call (``<documents>``).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from lambda_env import assert_datagrams_follow_xray_rules
from lambda_tracer.instrumentation import botocore as our_botocore
from lambda_tracer_local import xray_rules
from lambda_tracer_local.daemon import XRayDaemon

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("instrumentation_driver.py")
#: Frames of our bridge in the SDK's stacks (its botocore patch runs under our ignore_endpoint wrapper).
BRIDGE_FRAMES = frozenset({"sdk_patches.py"})
MISSING: Any = "<missing>"
ALL_ZERO_HEADER = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"


@dataclass(frozen=True)
class Scenario:
    name: str
    client: str
    outcome: str
    sampling: str


@dataclass(frozen=True)
class Difference:
    """A deliberate difference: a field (with everything under it) that differs for the calls ``applies`` picks,
    where ours holds what ``ours`` accepts and the SDK's what ``sdk`` accepts (MISSING: the field is absent)."""

    path: str
    applies: Callable[[Scenario], bool]
    ours: Callable[[Any], bool]
    sdk: Callable[[Any], bool]


def _client(*names: str) -> Callable[[Scenario], bool]:
    return lambda scenario: scenario.client in names


def _sampled(client: Callable[[Scenario], bool], *outcomes: str) -> Callable[[Scenario], bool]:
    return lambda scenario: client(scenario) and scenario.sampling == "sampled" and scenario.outcome in outcomes


def _absent(value: Any) -> bool:
    return value is MISSING


def _equals(expected: Any) -> Callable[[Any], bool]:
    return lambda value: value == expected


def _length(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


ANSWERED = ("2xx", "4xx", "429", "5xx")
HTTP_CLIENTS = _client("requests", "httpx", "httpx_async", "aiohttp", "httplib")
BOTOCORE = _client("botocore")
NOT_SAMPLED = ("unsampled", "none")

#: Every deliberate difference between our documents and the SDK's (also reported for the README).
DIFFERENCES: dict[str, Difference] = {
    # All clients.
    "the SDK writes in_progress: false beside end_time; we leave it out (same meaning)": Difference(
        "in_progress", lambda scenario: scenario.sampling == "sampled", _absent, _equals(False)
    ),
    "http.response.content_length is recorded (the SDK never does)": Difference(
        "http.response.content_length", lambda scenario: scenario.sampling == "sampled", _length, _absent
    ),
    "no X-Amzn-Trace-Id without a sampled trace (the SDK sends Parent=0000000000000000, or an all-zero Root when "
    "there is no trace at all)": Difference(
        "<header>",
        lambda scenario: (
            scenario.sampling in NOT_SAMPLED
            and not (scenario.client == "botocore" and scenario.sampling == "unsampled")
        ),
        lambda header: header is MISSING,
        lambda header: header == ALL_ZERO_HEADER or header == "Root=<trace>;Parent=0000000000000000;Sampled=0",
    ),
    # botocore.
    "aws.retries is recorded (the SDK never does)": Difference("aws.retries", BOTOCORE, _length, _absent),
    "a 4xx ClientError is an error (and a throttle for 429), not a fault (the SDK flags both)": Difference(
        "fault", _sampled(BOTOCORE, "4xx", "429"), _absent, _equals(True)
    ),
    "an exception without a response (EndpointConnectionError) is a fault (the SDK records nothing)": Difference(
        "fault", _sampled(BOTOCORE, "connection error"), _equals(True), _absent
    ),
    "an exception without a response has its cause (the SDK records nothing)": Difference(
        "cause", _sampled(BOTOCORE, "connection error"), lambda cause: cause is not MISSING, _absent
    ),
    "map keys are a list: DynamoDB table_names (the SDK sends '<dict_keys>')": Difference(
        "aws.table_names",
        lambda scenario: scenario.name == "dynamodb BatchGetItem",
        _equals({"0": "parity"}),
        _equals("<dict_keys>"),
    ),
    "map keys are a list: SQS message_attribute_names (the SDK sends '<dict_keys>')": Difference(
        "aws.message_attribute_names",
        lambda scenario: scenario.name == "sqs SendMessage",
        _equals({"0": "kind"}),
        _equals("<dict_keys>"),
    ),
    "unsampled: botocore's own recursion-detection header goes out as Lambda gave it (the SDK replaces it with "
    "Parent=0000000000000000)": Difference(
        "<header>",
        lambda scenario: scenario.client == "botocore" and scenario.sampling == "unsampled",
        _equals("Root=<trace>;Parent=<invocation>;Sampled=0"),
        _equals("Root=<trace>;Parent=0000000000000000;Sampled=0"),
    ),
    # requests.
    "requests: the method is upper case (the SDK records requests' own 'get')": Difference(
        "http.request.method",
        _sampled(_client("requests"), *ANSWERED, "connection error"),
        _equals("GET"),
        _equals("get"),
    ),
    # http.client.
    "http.client: one subsegment per request (the SDK sends one for sending, one for getresponse(), one per "
    "read())": Difference("<documents>", _sampled(_client("httplib"), *ANSWERED), _equals(1), _equals(3)),
    "http.client: the URL keeps its port (the SDK drops it)": Difference(
        "http.request.url",
        _sampled(_client("httplib"), *ANSWERED, "connection error"),
        lambda url: re.match(r"http://127\.0\.0\.1:\d+/", url) is not None,
        lambda url: url.startswith("http://127.0.0.1/"),
    ),
    "http.client: the request carries its X-Amzn-Trace-Id (the SDK's patch sends none)": Difference(
        "<header>",
        _sampled(_client("httplib"), *ANSWERED),
        _equals("Root=<trace>;Parent=<this call>;Sampled=1"),
        _absent,
    ),
    # aiohttp.
    "aiohttp: a connection error stays in namespace remote (the SDK switches it to local)": Difference(
        "namespace", _sampled(_client("aiohttp"), "connection error"), _equals("remote"), _equals("local")
    ),
}


# -- servers ---------------------------------------------------------------------------------------------------------


class _Stub(http.server.BaseHTTPRequestHandler):
    """``/status/<code>/<name>``: JSON with that status. S3 path-style ``/status-<code>/<key>``: an object (200) or
    S3's XML error; ``/``: ListBuckets. Records the X-Amzn-Trace-Id of every request by path."""

    protocol_version = "HTTP/1.1"
    server: _StubServer
    ERRORS: ClassVar[dict[int, str]] = {
        404: "NoSuchKey",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
    }

    def do_GET(self) -> None:
        self.server.headers.setdefault(self.path, self.headers.get("X-Amzn-Trace-Id"))
        parts = self.path.split("?")[0].strip("/").split("/")
        extra: dict[str, str] = {"x-amz-request-id": "REQ1", "x-amz-id-2": "ID2"}
        if parts[0] == "status":
            status, kind, body = int(parts[1]), "application/json", json.dumps({"path": self.path}).encode()
        elif parts[0] == "":
            status, kind = 200, "application/xml"
            body = b'<?xml version="1.0"?><ListAllMyBucketsResult><Buckets></Buckets></ListAllMyBucketsResult>'
        elif int(parts[0].split("-")[1]) == 200:
            status, kind, body = 200, "application/octet-stream", b"data"
        elif parts[0] == "status-304":  # Not Modified: no body
            status, kind, body = 304, "application/xml", b""
        else:
            status, kind, code = int(parts[0].split("-")[1]), "application/xml", self.ERRORS[int(parts[0][7:])]
            body = f"<Error><Code>{code}</Code><Message>m</Message><RequestId>REQ1</RequestId></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    headers: dict[str, str | None]


@pytest.fixture(scope="module")
def stub() -> Iterator[_StubServer]:
    server = _StubServer(("127.0.0.1", 0), _Stub)
    server.headers = {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto is in every venv that runs this suite (dev.txt, and unit.txt for the other Pythons and mutmut): a moto
    that cannot be imported fails these tests rather than skip the SDK's whitelist and half of DIFFERENCES."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the two runs ------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One mode's run: each scenario's outcome, the documents of its trace, and the headers the stub received."""

    mode: str
    scenarios: dict[str, dict[str, Any]]
    documents: dict[str, list[dict[str, Any]]]
    datagrams: dict[str, list[bytes]]
    headers: dict[str, str | None]
    loaded: list[str]


@pytest.fixture(scope="module")
def runs(stub: _StubServer, moto_url: str) -> dict[str, Run]:
    stub_url = f"http://127.0.0.1:{stub.server_address[1]}"
    found: dict[str, Run] = {}
    closed = f"http://127.0.0.1:{_closed_port()}"  # the same in both runs: it is in URLs and messages
    with XRayDaemon() as daemon:
        for mode in ("ours", "sdk"):
            urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
            stub.headers = {}
            first = len(daemon.datagrams())
            config = {"mode": mode, "stub": stub_url, "closed": closed, "moto": moto_url}
            done = subprocess.run(
                [sys.executable, str(DRIVER), json.dumps(config)],
                env=_driver_env(daemon.address),
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr[-4000:]
            output = json.loads(done.stdout.strip().splitlines()[-1])
            daemon.sync()
            datagrams = daemon.datagrams(first)
            by_trace: dict[str, list[bytes]] = {}
            for data in datagrams:
                document = xray_rules.document_of(data) or {}
                by_trace.setdefault(str(document.get("trace_id")), []).append(data)
            scenarios = output["scenarios"]
            found[mode] = Run(
                mode=mode,
                scenarios=scenarios,
                documents={
                    name: [xray_rules.document_of(data) or {} for data in by_trace.get(scenario["trace_id"], [])]
                    for name, scenario in scenarios.items()
                },
                datagrams={name: by_trace.get(scenario["trace_id"], []) for name, scenario in scenarios.items()},
                headers=dict(stub.headers),
                loaded=output["loaded"],
            )
    return found


def _driver_env(daemon_address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_TRACER", "AWS_", "_X_AMZN"))}
    env.update(
        PYTHONPATH=str(ROOT / "layer"),
        LAMBDA_TASK_ROOT="/tmp",
        AWS_XRAY_DAEMON_ADDRESS=daemon_address,
        AWS_LAMBDA_FUNCTION_NAME="parity",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


# -- comparing -------------------------------------------------------------------------------------------------------


#: The botocore calls against the stub (the others go to moto), and the path the stub saw each under.
BOTOCORE: dict[str, str | None] = {
    "botocore 2xx": "/",
    "botocore 3xx": "/status-304/botocore-3xx",
    "botocore 4xx": "/status-404/botocore-4xx",
    "botocore 429": "/status-429/botocore-429",
    "botocore 5xx": "/status-503/botocore-5xx",
    "botocore retried 5xx": "/status-500/retried",
    "botocore unsampled": "/status-200/unsampled",
    "botocore none": "/status-200/none",
    "botocore connection error": None,
    "botocore retried connection error": None,
}


def _path_of(scenario: Scenario) -> str | None:
    """The path the stub saw the call under (None: it never reached the stub)."""
    if scenario.outcome == "connection error":
        return None
    if scenario.client == "botocore":
        return BOTOCORE.get(scenario.name)
    status = {"2xx": 200, "4xx": 404, "429": 429, "5xx": 503}[scenario.outcome]
    return f"/status/{status}/{scenario.name.replace(' ', '-')}"


def _main_document(scenario: Scenario, documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The document that records the call: for the SDK's http.client patch (up to three per request), the one
    of getresponse() (or of the failure), not those of sending and reading."""
    if not documents:
        return None
    for document in documents:
        http = document.get("http", {})
        recorded = document.get("cause") or http.get("response", {}).get("status")
        if recorded and http.get("request", {}).get("method") != "READ":
            return document
    return documents[0]


def _normalized(scenario: dict[str, Any], documents: list[dict[str, Any]], main: dict[str, Any] | None) -> Any:
    """The main document without its ids and times (trace_id and parent_id checked against the header), with
    random values (request ids) replaced by ``<id>`` and stacks left out (checked on their own)."""
    if main is None:
        return {}
    document = json.loads(json.dumps(main))
    assert document.pop("trace_id") == scenario["trace_id"]
    assert document.pop("parent_id") == scenario["parent"]
    for key in ("id", "start_time", "end_time"):
        document.pop(key)
    for key in ("request_id", "id_2", "message_id"):
        if key in document.get("aws", {}):
            document["aws"][key] = "<id>"
    cause = document.get("cause")
    if isinstance(cause, dict):
        for exception in cause.get("exceptions", []):
            exception.pop("id")
            exception.pop("stack")
    return document


def _header(scenario: dict[str, Any], documents: list[dict[str, Any]], main: dict[str, Any] | None, raw: Any) -> Any:
    """The X-Amzn-Trace-Id received, with the trace and the ids it names put in words."""
    if raw is None:
        return MISSING
    header = raw.replace(f"Root={scenario['trace_id']}", "Root=<trace>")
    if main is not None:
        header = header.replace(f"Parent={main['id']}", "Parent=<this call>")
    for document in documents:
        header = header.replace(f"Parent={document['id']}", "Parent=<another call of this one>")
    return header.replace(f"Parent={scenario['parent']}", "Parent=<invocation>")


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    """``{"http": {"response": {"status": 200}}}`` -> ``{"http.response.status": 200}`` (list items by index)."""
    if not isinstance(value, (dict, list)) or (not value and path):
        return {path: value}
    flat: dict[str, Any] = {}
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        flat.update(_flat(item, f"{path}.{key}" if path else str(key)))
    return flat


def _under(flat: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (MISSING if none), or what is under it as a flat dict of relative paths."""
    if path in flat:
        return flat[path]
    below = {key[len(path) + 1 :]: value for key, value in flat.items() if key.startswith(path + ".")}
    return below or MISSING


def _stack_problem(name: str, ours: dict[str, Any] | None, sdk: dict[str, Any] | None) -> str | None:
    """The SDK's stack (its frames of our bridge left out) must be the innermost part of ours: the SDK counts its
    own frames in its 10, and its httpx patch records the traceback only."""
    for mine, theirs in zip(_exceptions(ours), _exceptions(sdk), strict=False):
        their_frames = [frame for frame in theirs.get("stack", []) if frame["path"] not in BRIDGE_FRAMES]
        my_frames = mine.get("stack", [])
        if not their_frames or my_frames[-len(their_frames) :] != their_frames or len(my_frames) > 10:
            return f"{name}: stack\n  ours {my_frames}\n  sdk  {theirs.get('stack')}"
    return None


def _exceptions(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    cause = (document or {}).get("cause")
    return list(cause.get("exceptions", [])) if isinstance(cause, dict) else []


def compare(name: str, runs: dict[str, Run], occurred: set[str]) -> list[str]:
    """Every difference between our record of one call and the SDK's that DIFFERENCES does not explain."""
    ours, sdk = runs["ours"].scenarios[name], runs["sdk"].scenarios[name]
    scenario = Scenario(name, ours["client"], ours["outcome"], ours["sampling"])
    problems = []
    if ours["error"] != sdk["error"]:
        problems.append(f"{name}: the call raised {ours['error']} with ours, {sdk['error']} with the SDK")
    flats = {}
    mains = {}
    for mode, info in (("ours", ours), ("sdk", sdk)):
        run = runs[mode]
        documents = run.documents[name]
        main = mains[mode] = _main_document(scenario, documents)
        others = [document for document in documents if document is not main]
        flat = _flat(_normalized(info, documents, main))
        flat["<documents>"] = len(documents)
        path = _path_of(scenario)
        flat["<header>"] = _header(info, others, main, run.headers.get(path)) if path else MISSING
        flats[mode] = flat
    stack = _stack_problem(name, mains["ours"], mains["sdk"])
    if stack:
        problems.append(stack)
    for why, difference in DIFFERENCES.items():
        if not difference.applies(scenario):
            continue
        mine, theirs = _under(flats["ours"], difference.path), _under(flats["sdk"], difference.path)
        if difference.ours(mine) and difference.sdk(theirs):
            occurred.add(why)
        elif mine != theirs:
            problems.append(f"{name}: {difference.path}: ours {mine!r}, sdk {theirs!r} (expected: {why})")
        for flat in flats.values():
            for key in [key for key in flat if key == difference.path or key.startswith(difference.path + ".")]:
                del flat[key]
    for key in sorted(set(flats["ours"]) | set(flats["sdk"])):
        mine, theirs = flats["ours"].get(key, MISSING), flats["sdk"].get(key, MISSING)
        if mine != theirs:
            problems.append(f"{name}: {key}: ours {mine!r}, sdk {theirs!r}")
    return problems


def _names(runs: dict[str, Run], which: Callable[[dict[str, Any]], bool]) -> list[str]:
    names = [name for name, scenario in runs["ours"].scenarios.items() if which(scenario)]
    assert names and sorted(names) == sorted(n for n, s in runs["sdk"].scenarios.items() if which(s))
    return names


# -- tests -----------------------------------------------------------------------------------------------------------


def _check(runs: dict[str, Run], names: list[str]) -> set[str]:
    occurred: set[str] = set()
    problems = [problem for name in names for problem in compare(name, runs, occurred)]
    assert not problems, "\n".join(problems)
    return occurred


def test_http_clients_write_the_sdks_documents(runs: dict[str, Run]) -> None:
    names = _names(runs, lambda scenario: scenario["client"] != "botocore")
    assert len(names) == 5 * 7  # requests, httpx (sync, async), aiohttp, http.client: 5 outcomes + 2 unsampled
    occurred = _check(runs, names)
    assert "requests: the method is upper case (the SDK records requests' own 'get')" in occurred


def test_botocore_writes_the_sdks_documents(runs: dict[str, Run]) -> None:
    names = [name for name in _names(runs, lambda scenario: scenario["client"] == "botocore") if name in BOTOCORE]
    assert len(names) == len(BOTOCORE)
    _check(runs, names)
    for name in ("botocore retried 5xx", "botocore retried connection error"):
        [retried] = runs["ours"].documents[name]
        assert retried["aws"]["retries"] == 1 and retried["fault"] is True, name
    [once] = runs["ours"].documents["botocore connection error"]
    assert once["aws"]["retries"] == 0


def test_aws_parameters_are_the_sdks(runs: dict[str, Run]) -> None:
    """The SDK's whitelist per service, against moto: S3, DynamoDB, SQS, SNS, Lambda."""
    names = [name for name in _names(runs, lambda scenario: scenario["client"] == "botocore") if name not in BOTOCORE]
    assert len(names) >= 20
    _check(runs, names)
    aws = {name: runs["ours"].documents[name][0]["aws"] for name in names}
    assert aws["s3 PutObject"]["bucket_name"] == "parity" and aws["s3 PutObject"]["key"] == "reports/a.csv"
    assert aws["dynamodb BatchGetItem"]["table_names"] == ["parity"]
    assert aws["sqs SendMessageBatch"]["message_count"] == 2
    assert aws["sns Publish"]["topic_arn"].endswith(":parity")
    assert aws["lambda Invoke missing function"]["function_name"] == "missing"


def test_every_listed_difference_shows_up(runs: dict[str, Run]) -> None:
    occurred: set[str] = set()
    for name in runs["ours"].scenarios:
        compare(name, runs, occurred)
    missing = set(DIFFERENCES) - occurred
    assert not missing, missing


def test_our_run_never_loads_the_sdk_or_wrapt(runs: dict[str, Run]) -> None:
    assert runs["ours"].loaded == []
    assert "aws_xray_sdk" in runs["sdk"].loaded  # the control: the SDK's patches did run


def test_our_documents_follow_xray_rules(runs: dict[str, Run]) -> None:
    for name, scenario in runs["ours"].scenarios.items():
        if scenario["sampling"] == "sampled":
            header = f"Root={scenario['trace_id']};Parent={scenario['parent']};Sampled=1"
            assert runs["ours"].datagrams[name], f"{name}: nothing sent"
            assert_datagrams_follow_xray_rules(runs["ours"].datagrams[name], [], header)
        else:
            assert runs["ours"].datagrams[name] == [], f"{name}: sent without a sampled trace"


def test_our_rules_are_the_sdks_whitelist() -> None:
    """instrumentation/botocore.py's RULES say what aws_xray_sdk's aws_para_whitelist.json says."""
    import importlib.util

    from aws_xray_sdk.ext.util import to_snake_case

    spec = importlib.util.find_spec("aws_xray_sdk")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "ext" / "resources" / "aws_para_whitelist.json"
    whitelist = json.loads(path.read_text())["services"]

    def expected(parameters: list[str], descriptors: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
        found = [(name, to_snake_case(name), "value") for name in parameters]
        for name, descriptor in descriptors.items():
            how = "keys" if descriptor.get("get_keys") else "count" if descriptor.get("get_count") else "value"
            found.append((name, descriptor["rename_to"], how))
        return tuple(found)

    assert set(our_botocore.RULES) == set(whitelist)
    for service, operations in whitelist.items():
        assert set(our_botocore.RULES[service]) == set(operations["operations"]), service
        for operation, rule in operations["operations"].items():
            request = expected(rule.get("request_parameters", []), rule.get("request_descriptors", {}))
            response = expected(rule.get("response_parameters", []), rule.get("response_descriptors", {}))
            assert our_botocore.rules(service, operation) == (request, response), (service, operation)
