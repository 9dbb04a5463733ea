"""Libraries traced through the X-Ray SDK's own patches (instrumentation/sdk_patches.py), each in a fresh process:
a patch changes the library for the whole process. What they record joins our trace, once per call."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lambda_env import in_a_fresh_process

TESTS = Path(__file__).resolve().parents[1]


def _needs(*modules: str) -> None:
    """Skip unless ``modules`` are installed (requirements/dev.txt has them; the other Pythons' and the mutation
    venvs, requirements/unit.txt, do not), without importing them here: a library imported is patched for good."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


#: A fresh process's preamble: what it sends is kept in memory (tests/memory_sender.py), a DynamoDB stand-in answers
#: on 127.0.0.1, and ``documents()`` gives what the tracer sent.
PREAMBLE = f"""
import json, os, sys, threading, http.server
sys.path[:0] = [{str(TESTS)!r}, {str(TESTS.parent / "local")!r}]
import memory_sender
from http_stub import QuietHandler, serving
from lambda_tracer_local.daemon import subsegments
sender = memory_sender.install()
os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y", AWS_DEFAULT_REGION="us-east-1")

class DynamoDB(QuietHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, b'{{"TableNames": []}}', "application/x-amz-json-1.0")

def documents():
    return subsegments(sender.documents)
"""

PYNAMODB = (
    PREAMBLE
    + """
from lambda_tracer import Tracer
tracer = Tracer(service="svc")
import boto3
import pynamodb.connection

@tracer.capture_lambda_handler
def handler(event, context):
    client = boto3.client("dynamodb", endpoint_url=event["url"])
    table = pynamodb.connection.Connection(host=event["url"])
    return [client.list_tables()["TableNames"], table.list_tables()["TableNames"]]

with serving(DynamoDB) as port:
    result = handler({"url": "http://127.0.0.1:%d" % port}, None)
print(json.dumps({"result": result, "names": sorted(d["name"] for d in documents())}))
"""
)


def test_a_dynamodb_call_is_one_subsegment_once_pynamodb_is_imported() -> None:
    """The SDK's pynamodb patch records every DynamoDB request botocore's HTTP session sends: PynamoDB 6 and boto3
    send theirs through a botocore client, whose call we record already, so each call was two nested ``dynamodb``
    subsegments (the inner one with a region read from the URL) as soon as the function imported pynamodb."""
    _needs("pynamodb")
    probe = json.loads(in_a_fresh_process(PYNAMODB).splitlines()[-1])
    assert probe == {"result": [[], []], "names": ["## handler", "dynamodb", "dynamodb"]}


SQLALCHEMY_UNDER_OPENTELEMETRY = (
    PREAMBLE
    + """
os.environ["LAMBDA_TRACER_OTEL_INSTRUMENTATIONS"] = "sqlalchemy"
from lambda_tracer import Tracer
tracer = Tracer(service="svc")
import sqlalchemy
engine = sqlalchemy.create_engine("sqlite://")

@tracer.capture_lambda_handler
def handler(event, context):
    with engine.connect() as connection:
        return connection.execute(sqlalchemy.text("select 1")).scalar()

result = handler({}, None)
queries = [d["name"] for d in documents() if (d.get("sql") or {}).get("sanitized_query") == "select 1"]
print(json.dumps({"result": result, "queries": queries, "sdk": "aws_xray_sdk" in sys.modules}))
"""
)


def test_a_library_listed_for_opentelemetry_is_not_traced_by_the_sdk_too() -> None:
    """LAMBDA_TRACER_OTEL_INSTRUMENTATIONS=sqlalchemy traces SQLAlchemy with the contrib instrumentation instead of
    the SDK's patch (as for sqlite3, and as the docs say, "the way to trace database clients without the X-Ray
    SDK"): the SDK's patch was applied as well, so each query was two subsegments, the SDK's and OpenTelemetry's
    inside it, and the SDK was loaded."""
    _needs("sqlalchemy", "opentelemetry.instrumentation.sqlalchemy")
    probe = json.loads(in_a_fresh_process(SQLALCHEMY_UNDER_OPENTELEMETRY).splitlines()[-1])
    assert probe == {"result": 1, "queries": ["select"], "sdk": False}
