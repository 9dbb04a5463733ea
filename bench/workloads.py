"""What the counted functions do and return: the bench's workloads, as function code plus data.

Three groups, each measured beside the bare function and the reference in one run:

- ``main``: an empty function, and one that makes a boto3 S3 client at init and one AWS call per invocation
  (S3 ListBuckets against the bench's local stub);
- ``responses``: what users return (issue 18, item 4): an API Gateway proxy response of 2 KB and 10 KB
  (statusCode, headers, multiValueHeaders, a body of JSON with timestamps, URLs and ids), a dict of 1 KB and
  10 KB, and proxy responses with a 100 KB and a 1 MB body;
- ``shapes``: the cost shapes of the secrets issue (17, item 5), JSON bodies of ~1 MB: many distinct uuid
  keys, long keys, deep nesting, many short strings, and a body the function echoes from its event. Each is
  reported against ``json.loads`` of that body.

The wall-time runs (bench/timing.py) time a smaller set in real sandboxes: ``TIMED``, at the end of this module.

Data is generated from fixed seeds, so every run counts the same bytes. A function loads its response from
``payload.json`` at init (bare and traced alike) and returns that object on every invocation.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Function code. {init} runs at import, {ret} is what the handler returns.
BARE = "{init}\ndef handler(event, context):\n    return {ret}\n"
IN_CODE = (
    "from {package} import Tracer\n{init}\ntracer = Tracer()\n\n"
    "@tracer.capture_lambda_handler\n"
    "def handler(event, context):\n    return {ret}\n"
)
LOAD_PAYLOAD = (
    "import json, os\n"
    'with open(os.path.join(os.path.dirname(__file__), "payload.json"), encoding="utf-8") as _f:\n'
    "    RESPONSE = json.load(_f)\n"
)
BOTO3_INIT = 'import boto3\ns3 = boto3.client("s3")\n'
SMALL_EVENT: dict[str, Any] = {"n": 0}


@dataclass(frozen=True)
class Workload:
    name: str
    group: str
    init: str
    ret: str
    #: What payload.json holds (the response), or None.
    payload: Callable[[], Any] | None = None
    event: Callable[[], Any] = lambda: SMALL_EVENT
    #: Warm invocations counted (the per-warm figure is their mean).
    warm: int = 4
    #: The JSON text whose json.loads is the unit of a cost shape (None: not a cost shape).
    body: Callable[[], str] | None = None
    #: Every invocation makes an AWS call that a tracer must record.
    aws_call: bool = False

    def source(self, template: str, package: str = "") -> str:
        return template.format(init=self.init, ret=self.ret, package=package)


# -- realistic data -------------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _timestamp(rng: random.Random) -> str:
    month, day, hour, minute, second, ms = (
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.randint(0, 999),
    )
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"


def _record(rng: random.Random) -> dict[str, Any]:
    """An order as an API returns it: ids, timestamps, URLs, amounts, a nested customer."""
    order = _uuid(rng)
    customer = _uuid(rng)
    return {
        "id": order,
        "createdAt": _timestamp(rng),
        "updatedAt": _timestamp(rng),
        "status": rng.choice(["pending", "paid", "shipped", "delivered", "cancelled"]),
        "amount": round(rng.uniform(1, 999), 2),
        "currency": "EUR",
        "url": f"https://api.example.com/v1/orders/{order}",
        "customer": {"id": customer, "href": f"https://api.example.com/v1/customers/{customer}", "tier": "gold"},
        "items": [{"sku": f"SKU-{rng.randrange(10**6):06d}", "qty": rng.randint(1, 5)} for _ in range(2)],
    }


def _records_until(size: int, seed: int, wrap: Callable[[list[dict[str, Any]]], Any]) -> Any:
    """``wrap(records)`` with as many records as keep its JSON text at or just over ``size`` bytes."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    while True:
        records.append(_record(rng))
        value = wrap(records)
        if len(json.dumps(value)) >= size:
            return value


def _proxy(body: str) -> dict[str, Any]:
    """An API Gateway (REST, proxy integration) response around a JSON body."""
    return {
        "statusCode": 200,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "Access-Control-Allow-Origin": "https://app.example.com",
            "X-Request-Id": "8d7e2f7e-5b0c-4f3e-9a51-0c1f2d3e4b5a",
            "Date": "Sun, 06 Dec 2026 11:20:00 GMT",
            "ETag": '"33a64df551425fcc55e4d42a148795d9f25f89d4"',
        },
        "multiValueHeaders": {
            "Vary": ["Origin", "Accept-Encoding"],
            "Link": ["<https://api.example.com/v1/orders?page=2>; rel=next"],
        },
        "isBase64Encoded": False,
        "body": body,
    }


def _page(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": records,
        "count": len(records),
        "generatedAt": "2026-12-06T11:20:00.000Z",
        "next": f"https://api.example.com/v1/orders?page=2&limit={len(records)}",
    }


def apigw_response(size: int, seed: int = 18) -> dict[str, Any]:
    """A proxy response of ~``size`` bytes (as JSON, headers included)."""
    return _records_until(size, seed, lambda records: _proxy(json.dumps(_page(records))))


def dict_response(size: int, seed: int = 19) -> dict[str, Any]:
    """A plain dict response of ~``size`` bytes as JSON."""
    return _records_until(size, seed, _page)


def proxy_with_body(size: int, seed: int = 20) -> dict[str, Any]:
    """A proxy response whose JSON body alone is ~``size`` bytes (records appended in chunks: fast for 1 MB)."""
    rng = random.Random(seed)
    records = [_record(rng) for _ in range(max(1, size // 720))]
    while len(json.dumps(_page(records))) < size:
        records.extend(_record(rng) for _ in range(max(1, size // 20000)))
    return _proxy(json.dumps(_page(records)))


# -- the cost shapes (issue 17, item 5): JSON bodies of ~1 MB -------------------------------------------------

SHAPE_BYTES = 1_000_000


def _fill(make_entry: Callable[[int], tuple[str, Any]], size: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n = 0
    while True:
        key, value = make_entry(n)
        out[key] = value
        n += 1
        if n % 256 == 0 and len(json.dumps(out)) >= size:
            return out


def uuid_keys_body(size: int = SHAPE_BYTES) -> str:
    """An object keyed by ~14,300 distinct uuids (a cache or index returned whole)."""
    rng = random.Random(171)
    return json.dumps(_fill(lambda n: (_uuid(rng), {"seen": rng.randrange(10**6), "ok": True}), size))


def long_keys_body(size: int = SHAPE_BYTES) -> str:
    """An object with ~6,600 long keys (150 characters: generated column or attribute names)."""
    rng = random.Random(172)
    words = ["customer", "shipping", "address", "billing", "line", "item", "total", "discount", "region", "code"]

    def entry(n: int) -> tuple[str, Any]:
        key = "_".join(rng.choice(words) for _ in range(18))[:142] + f"_{n:07d}"
        return key, f"value-{n}"

    return json.dumps(_fill(entry, size))


def deep_body(size: int = SHAPE_BYTES) -> str:
    """Records each nested 40 levels deep (a tree or a chain of wrappers)."""
    rng = random.Random(173)

    def chain(depth: int) -> Any:
        node: Any = {"leaf": rng.randrange(10**6)}
        for level in range(depth):
            node = {"level": level, "child": node}
        return node

    items: list[Any] = []
    while len(json.dumps(items)) < size:
        items.extend(chain(40) for _ in range(50))
    return json.dumps({"items": items})


def short_strings_body(size: int = SHAPE_BYTES) -> str:
    """A list of 125,000 four-character strings (tags, codes)."""
    rng = random.Random(174)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return json.dumps(["".join(rng.choice(alphabet) for _ in range(4)) for _ in range(size // 8)])


def _shape(name: str, body: Callable[[], str]) -> Workload:
    return Workload(name, "shapes", LOAD_PAYLOAD, "RESPONSE", payload=lambda: _proxy(body()), warm=2, body=body)


def echo_event() -> dict[str, Any]:
    """An API Gateway request whose body (long keys, ~1 MB) the function sends back."""
    return {
        "resource": "/items",
        "path": "/items",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
        "requestContext": {"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "stage": "prod"},
        "isBase64Encoded": False,
        "body": long_keys_body(),
    }


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload("empty", "main", "", '{"ok": 1, "calls": None}'),
        Workload("boto3", "main", BOTO3_INIT, '{"ok": 1, "calls": s3.list_buckets()["Buckets"]}', aws_call=True),
        Workload("apigw-2k", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: apigw_response(2_000)),
        Workload("apigw-10k", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: apigw_response(10_000)),
        Workload("dict-1k", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: dict_response(1_000)),
        Workload("dict-10k", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: dict_response(10_000)),
        Workload("body-100k", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: proxy_with_body(100_000)),
        Workload("body-1m", "responses", LOAD_PAYLOAD, "RESPONSE", payload=lambda: proxy_with_body(1_000_000), warm=2),
        _shape("uuid-keys", uuid_keys_body),
        _shape("long-keys", long_keys_body),
        _shape("deep-nesting", deep_body),
        _shape("short-strings", short_strings_body),
        Workload(
            "echoed-body",
            "shapes",
            "",
            '{"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event["body"]}',
            event=echo_event,
            warm=2,
            body=lambda: echo_event()["body"],
        ),
    ]
}


def write_files(workload: Workload, directory: Path) -> None:
    """payload.json into a function's directory (only when it changes: its bytes stay put between counts)."""
    if workload.payload is None:
        return
    _write_if_changed(directory / "payload.json", json.dumps(workload.payload()))


def write_event(workload: Workload, path: Path) -> None:
    _write_if_changed(path, json.dumps(workload.event()))


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


# -- timed in sandboxes (bench/timing.py: wall and CPU time, memory) ------------------------------------------

# Function code per (configuration kind, timed workload). {init} and {call} are filled per workload.
# boto3: a client made at init and one AWS call (S3 ListBuckets, against the local stub) per invocation;
# boto3-idle: the same client, no call (what tracing costs a boto3 function that calls nothing this time).
TIMED: dict[str, tuple[str, str]] = {
    "empty": ("", "None"),
    "boto3": (BOTO3_INIT, 's3.list_buckets()["Buckets"]'),
    "boto3-idle": (BOTO3_INIT, "None"),
}
#: Timed workloads whose every invocation makes an AWS call a tracer must record.
TIMED_AWS_CALLS = ("boto3",)
TIMED_BARE = '{init}\ndef handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n'
TIMED_IN_CODE = (
    "from {package} import Tracer\n{init}\ntracer = Tracer()\n\n"
    "@tracer.capture_lambda_handler\n"
    'def handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n'
)
# OpenTelemetry: X-Ray ids and propagation, botocore spans, OTLP export; the Lambda instrumentation wraps the
# handler named by _HANDLER once it exists, so it is instrumented at the end of the module.
TIMED_OTEL = (
    "import os\n"
    "from opentelemetry import trace\n"
    "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
    "from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor\n"
    "from opentelemetry.instrumentation.botocore import BotocoreInstrumentor\n"
    "from opentelemetry.propagate import set_global_textmap\n"
    "from opentelemetry.propagators.aws import AwsXRayPropagator\n"
    "from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator\n"
    "from opentelemetry.sdk.trace import TracerProvider\n"
    "from opentelemetry.sdk.trace.export import BatchSpanProcessor\n"
    "provider = TracerProvider(id_generator=AwsXRayIdGenerator())\n"
    'provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["OTLP_ENDPOINT"])))\n'
    "trace.set_tracer_provider(provider)\n"
    "set_global_textmap(AwsXRayPropagator())\n"
    "BotocoreInstrumentor().instrument()\n"
    "{init}\n"
    'def handler(event, context):\n    return {{"ok": 1, "calls": {call}}}\n\n'
    "AwsLambdaInstrumentor().instrument()\n"
)
