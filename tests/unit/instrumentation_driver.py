"""Every instrumented client through every outcome, for test_instrumentation_parity.py.

Run as a script, once per mode in its own process: ``ours`` (our instrumentation) or ``sdk`` (the X-Ray SDK's
patches, as the layer used them before, recording through our bridge): the SDK's global patches never reach
the test process, and both runs make the same calls from the same lines of this file (so their stack frames
match). Each scenario runs under its own trace header (sampled, unsampled, or none at all); the documents go
to the test's daemon stand-in (AWS_XRAY_DAEMON_ADDRESS). Prints one JSON object: scenario name ->
{client, outcome, header, trace_id, parent, error}.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

MODULES = ["botocore", "requests", "httpx", "httplib", "aiohttp"]
HTTP_CLIENTS = ("requests", "httpx", "httpx_async", "aiohttp", "httplib")
OUTCOMES = ("2xx", "4xx", "429", "5xx", "connection error")
STATUS = {"2xx": 200, "4xx": 404, "429": 429, "5xx": 503}


def http_call(client: str, url: str) -> Callable[[], Any]:
    """One GET of ``url`` with ``client``; returns the status."""
    if client == "requests":
        import requests

        return lambda: requests.get(url).status_code
    if client == "httpx":
        import httpx

        return lambda: httpx.get(url).status_code
    if client == "httpx_async":
        import httpx

        async def fetch_httpx() -> int:
            async with httpx.AsyncClient() as session:
                return (await session.get(url)).status_code

        return lambda: asyncio.run(fetch_httpx())
    if client == "aiohttp":
        import aiohttp

        async def fetch_aiohttp() -> int:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                await response.read()
                return response.status

        return lambda: asyncio.run(fetch_aiohttp())
    assert client == "httplib"

    def fetch_http_client() -> int:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            connection.request("GET", parts.path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    return fetch_http_client


def s3_client(endpoint: str, attempts: int = 1) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=5,
        read_timeout=10,
    )
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config)


def scenarios(config: dict[str, Any]) -> list[tuple[str, str, str, str, Callable[[], Any]]]:
    """(name, client, outcome, sampling, call): sampling is "sampled", "unsampled" or "none" (no header)."""
    stub, closed = config["stub"], config["closed"]
    found: list[tuple[str, str, str, str, Callable[[], Any]]] = []
    for client in HTTP_CLIENTS:
        for outcome in OUTCOMES:
            name = f"{client} {outcome}"
            path = name.replace(" ", "-")
            url = f"{closed}/{path}" if outcome == "connection error" else f"{stub}/status/{STATUS[outcome]}/{path}"
            found.append((name, client, outcome, "sampled", http_call(client, url)))
        for sampling in ("unsampled", "none"):
            name = f"{client} {sampling}"
            url = f"{stub}/status/200/{name.replace(' ', '-')}"
            found.append((name, client, "2xx", sampling, http_call(client, url)))

    s3 = s3_client(stub)
    found.append(("botocore 2xx", "botocore", "2xx", "sampled", lambda: s3.list_buckets()["Buckets"]))
    for outcome in ("4xx", "429", "5xx"):
        bucket, key = f"status-{STATUS[outcome]}", f"botocore-{outcome}"
        found.append((f"botocore {outcome}", "botocore", outcome, "sampled", _get_object(s3, bucket, key)))
    found.append(("botocore 3xx", "botocore", "3xx", "sampled", _not_modified(s3)))
    down = s3_client(closed)
    found.append(("botocore connection error", "botocore", "connection error", "sampled", _get_object(down, "b", "k")))
    retried = s3_client(stub, attempts=2)
    found.append(("botocore retried 5xx", "botocore", "5xx", "sampled", _get_object(retried, "status-500", "retried")))
    retried_down = s3_client(closed, attempts=2)
    found.append(
        (
            "botocore retried connection error",
            "botocore",
            "connection error",
            "sampled",
            _get_object(retried_down, "b", "k"),
        )
    )
    for sampling in ("unsampled", "none"):
        found.append((f"botocore {sampling}", "botocore", "2xx", sampling, _get_object(s3, "status-200", sampling)))
    found += moto_scenarios(config["moto"])
    return found


def _get_object(client: Any, bucket: str, key: str) -> Callable[[], Any]:
    return lambda: client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _not_modified(client: Any) -> Callable[[], Any]:
    """S3's answer to a conditional GET of an unchanged object: a ClientError with status 304."""
    return lambda: client.get_object(Bucket="status-304", Key="botocore-3xx", IfNoneMatch='"etag"')


def moto_scenarios(endpoint: str) -> list[tuple[str, str, str, str, Callable[[], Any]]]:
    """AWS calls whose parameters the SDK records (its whitelist), against a moto server."""
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

    s3, dynamodb, sqs, sns, lam = (client(name) for name in ("s3", "dynamodb", "sqs", "sns", "lambda"))
    table, key = "parity", {"id": {"S": "1"}}
    calls: list[tuple[str, str, Callable[[], Any]]] = [
        ("s3 CreateBucket", "2xx", lambda: s3.create_bucket(Bucket="parity")),
        ("s3 PutObject", "2xx", lambda: s3.put_object(Bucket="parity", Key="reports/a.csv", Body=b"a,b\n")),
        ("s3 GetObject", "2xx", lambda: s3.get_object(Bucket="parity", Key="reports/a.csv")["Body"].read()),
        ("s3 ListObjectsV2", "2xx", lambda: s3.list_objects_v2(Bucket="parity", Prefix="reports/")),
        (
            "s3 CopyObject",
            "2xx",
            lambda: s3.copy_object(
                Bucket="parity", Key="reports/b.csv", CopySource={"Bucket": "parity", "Key": "reports/a.csv"}
            ),
        ),
        ("s3 GetObject missing key", "4xx", lambda: s3.get_object(Bucket="parity", Key="missing")),
        (
            "dynamodb CreateTable",
            "2xx",
            lambda: dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            ),
        ),
        ("dynamodb PutItem", "2xx", lambda: dynamodb.put_item(TableName=table, Item={**key, "n": {"N": "1"}})),
        ("dynamodb GetItem", "2xx", lambda: dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)),
        ("dynamodb BatchGetItem", "2xx", lambda: dynamodb.batch_get_item(RequestItems={table: {"Keys": [key]}})),
        ("dynamodb ListTables", "2xx", lambda: dynamodb.list_tables(Limit=5)),
        (
            "dynamodb Query",
            "2xx",
            lambda: dynamodb.query(
                TableName=table,
                KeyConditionExpression="id = :id",
                ExpressionAttributeValues={":id": {"S": "1"}},
                Limit=1,
                ScanIndexForward=False,
            ),
        ),
        ("dynamodb Scan", "2xx", lambda: dynamodb.scan(TableName=table, Select="COUNT")),
        ("dynamodb GetItem missing table", "4xx", lambda: dynamodb.get_item(TableName="missing", Key=key)),
        (
            "sqs CreateQueue",
            "2xx",
            lambda: sqs.create_queue(QueueName="parity", Attributes={"DelaySeconds": "0"}),
        ),
        ("sqs GetQueueUrl", "2xx", lambda: sqs.get_queue_url(QueueName="parity")),
        (
            "sqs SendMessage",
            "2xx",
            lambda: sqs.send_message(
                QueueUrl=queue_url(),
                MessageBody="hello",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
            ),
        ),
        (
            "sqs SendMessageBatch",
            "2xx",
            lambda: sqs.send_message_batch(
                QueueUrl=queue_url(), Entries=[{"Id": "1", "MessageBody": "a"}, {"Id": "2", "MessageBody": "b"}]
            ),
        ),
        ("sqs ReceiveMessage", "2xx", lambda: sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10)),
        ("sqs GetQueueUrl missing queue", "4xx", lambda: sqs.get_queue_url(QueueName="missing")),
        ("sns Publish", "2xx", lambda: sns.publish(TopicArn=topic_arn(), Message="hi")),
        ("lambda Invoke missing function", "4xx", lambda: lam.invoke(FunctionName="missing", Payload=b"{}")),
    ]

    def queue_url() -> str:
        with untraced():
            return str(sqs.get_queue_url(QueueName="parity")["QueueUrl"])

    def topic_arn() -> str:
        with untraced():
            return str(sns.create_topic(Name="parity")["TopicArn"])

    return [(name, "botocore", outcome, "sampled", call) for name, outcome, call in calls]


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """A call that sets up another one: made without a trace header, so it records nothing."""
    header = os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        yield
    finally:
        if header is not None:
            os.environ["_X_AMZN_TRACE_ID"] = header


def _header(sampling: str) -> tuple[str | None, str, str]:
    trace_id = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    parent = os.urandom(8).hex()
    if sampling == "none":
        return None, trace_id, parent
    return f"Root={trace_id};Parent={parent};Sampled={1 if sampling == 'sampled' else 0}", trace_id, parent


def main() -> None:
    config = json.loads(sys.argv[1])
    if config["mode"] == "sdk":
        from lambda_tracer import instrumentation

        instrumentation.OWN_INSTRUMENTATION.clear()
    from lambda_tracer import Tracer

    Tracer(service="parity", patch_modules=MODULES)
    results: dict[str, Any] = {}
    for name, client, outcome, sampling, call in scenarios(config):
        header, trace_id, parent = _header(sampling)
        if header is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = header
        error = None
        try:
            call()
        except Exception as failure:
            error = type(failure).__name__
        finally:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        results[name] = {
            "client": client,
            "outcome": outcome,
            "sampling": sampling,
            "trace_id": trace_id,
            "parent": parent,
            "error": error,
        }
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("aws_xray_sdk", "wrapt"))
    print(json.dumps({"scenarios": results, "loaded": loaded}))


if __name__ == "__main__":
    main()
