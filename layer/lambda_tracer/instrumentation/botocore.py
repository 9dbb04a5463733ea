"""botocore (and boto3): one ``aws`` subsegment per API call, with the ``aws`` block the X-Ray SDK writes.

* **The call**: ``BaseClient._make_api_call`` is wrapped once (functools.wraps; every client, those made
  before the patch too): the subsegment, named after the service's endpoint prefix as the SDK names it, spans
  the whole call, retries included.
* **The trace header**: each client's own event system, ``before-call`` (emitted once per call, with the
  request's headers as a plain dict, before signing; botocore never signs ``X-Amzn-Trace-Id``), registered on
  the client's first traced call: it replaces the header botocore's recursion detection copies from Lambda with
  this call's. The same handler keeps the request context, where botocore counts the attempts, so ``retries``
  is known even when no response ever came.
* **What is recorded**: ``aws`` operation, region, request_id (and S3's ``id_2``), retries, and the request
  and response parameters the SDK records per service and operation (RULES, copied from the SDK's
  ``aws_para_whitelist.json``, under the SDK's names), converted and redacted like any metadata;
  ``http.response`` status and content_length; error/fault/throttle from the status.

Differences from the SDK's patch, on purpose: a 4xx ClientError is an error (a throttle too for a 429), not a
fault (any other ClientError, a 5xx or a 3xx such as S3's 304 to a conditional GET, is a fault, as in the SDK);
an exception without a response (EndpointConnectionError, a read timeout, parameter validation) is a fault with
its cause (the SDK records nothing); map keys are recorded as a list (the SDK sends a repr of ``dict_keys``);
``retries`` and ``content_length`` are recorded.
"""

from __future__ import annotations

import contextvars
import functools
import re
import sys
from types import ModuleType

from .. import capture, config, redaction
from . import common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

#: Set on our wrapper, so a second patch (another Tracer, an import hook racing) does not wrap it again.
MARKER = "__lambda_tracer_instrumented__"
#: Set on a client's event emitter once our ``before-call`` handler is registered on it.
_REGISTERED = "_lambda_tracer_before_call"
#: Set on a client on its first traced call: what ``_client`` read of it.
_CLIENT = "_lambda_tracer_client"
#: The SDK's own pollers (centralized sampling), which it never traces.
_XRAY_POLLERS = frozenset({"GetSamplingRules", "GetSamplingTargets", "PutTraceSegments"})

# What the SDK records per service (endpoint prefix) and operation, from aws_xray_sdk 2.15.0's
# ext/resources/aws_para_whitelist.json (tests/unit/test_instrumentation_parity.py checks it still matches).
# "Request params > response params"; a param is recorded under the SDK's snake_case of its name, or under
# ``=name``; ``:keys`` records a map's keys, ``:count`` a list's length.
_BUCKET_ONLY = """
    CreateBucket GetBucketAcl PutBucketAcl HeadBucket DeleteBucket DeleteObjects GetBucketPolicy PutBucketPolicy
    PutBucketNotificationConfiguration DeleteBucketLifecycleConfiguration GetBucketNotificationConfiguration
    DeleteBucketCors PutBucketCors GetBucketCors ListBucketInventoryConfigurations GetBucketReplicationConfiguration
    PutBucketReplicationConfiguration DeleteBucketReplicationConfiguration DeleteBucketAnalyticsConfiguration
    DeleteBucketInventoryConfiguration ListBucketAnalyticsConfigurations PutBucketVersioning GetBucketVersioning
    GetBucketWebsite GetBucketLifecycleConfiguration SetBucketLifecycleConfiguration GetBucketTagging PutBucketTagging
    GetBucketLocation GetBucketLogging DeleteBucketPolicy DeleteBucketEncryption PutBucketAccelerateConfiguration
    PutBucketWebsite PutBucketEncryption SetBucketLogging DeleteBucketWebsite GetBucketEncryption DeleteBucketTagging
    GetBucketAccelerateConfiguration GetBucketMetricsConfiguration ListBucketMetricsConfigurations
    PutBucketInventoryConfiguration PutBucketMetricsConfiguration PutBucketAnalyticsConfiguration
    DeleteBucketMetricsConfiguration GetBucketAnalyticsConfiguration GetBucketInventoryConfiguration
"""
RULES: dict[str, dict[str, str]] = {
    "sns": {
        "Publish": "TopicArn",
        "PublishBatch": "TopicArn",
    },
    "dynamodb": {
        "BatchGetItem": "RequestItems:keys=table_names > ConsumedCapacity",
        "BatchWriteItem": "RequestItems:keys=table_names > ConsumedCapacity ItemCollectionMetrics",
        "CreateTable": "GlobalSecondaryIndexes LocalSecondaryIndexes ProvisionedThroughput TableName",
        "DeleteItem": "TableName > ConsumedCapacity ItemCollectionMetrics",
        "DeleteTable": "TableName",
        "DescribeTable": "TableName",
        "GetItem": "ConsistentRead ProjectionExpression TableName > ConsumedCapacity",
        "ListTables": "ExclusiveStartTableName Limit > TableNames:count=table_count",
        "PutItem": "TableName > ConsumedCapacity ItemCollectionMetrics",
        "Query": (
            "AttributesToGet ConsistentRead IndexName Limit ProjectionExpression ScanIndexForward Select TableName"
            " > ConsumedCapacity"
        ),
        "Scan": (
            "AttributesToGet ConsistentRead IndexName Limit ProjectionExpression Segment Select TableName"
            " TotalSegments > ConsumedCapacity Count ScannedCount"
        ),
        "UpdateItem": "TableName > ConsumedCapacity ItemCollectionMetrics",
        "UpdateTable": "AttributeDefinitions GlobalSecondaryIndexUpdates ProvisionedThroughput TableName",
    },
    "sqs": {
        "AddPermission": "Label QueueUrl",
        "ChangeMessageVisibility": "QueueUrl VisibilityTimeout",
        "ChangeMessageVisibilityBatch": "QueueUrl > Failed",
        "CreateQueue": "Attributes QueueName",
        "DeleteMessage": "QueueUrl",
        "DeleteMessageBatch": "QueueUrl > Failed",
        "DeleteQueue": "QueueUrl",
        "GetQueueAttributes": "QueueUrl > Attributes",
        "GetQueueUrl": "QueueName QueueOwnerAWSAccountId > QueueUrl",
        "ListDeadLetterSourceQueues": "QueueUrl > QueueUrls",
        "ListQueues": "QueueNamePrefix > QueueUrls:count=queue_count",
        "PurgeQueue": "QueueUrl",
        "ReceiveMessage": (
            "AttributeNames MaxNumberOfMessages MessageAttributeNames QueueUrl VisibilityTimeout WaitTimeSeconds"
            " > Messages:count=message_count"
        ),
        "RemovePermission": "QueueUrl",
        "SendMessage": "DelaySeconds QueueUrl MessageAttributes:keys=message_attribute_names > MessageId",
        "SendMessageBatch": (
            "QueueUrl Entries:count=message_count > Failed:count=failed_count Successful:count=successful_count"
        ),
        "SetQueueAttributes": "QueueUrl Attributes:keys=attribute_names",
    },
    "lambda": {
        "Invoke": "FunctionName InvocationType LogType Qualifier > FunctionError StatusCode",
        "InvokeAsync": "FunctionName > Status",
    },
    "s3": {
        "CopyObject": "CopySource Bucket Key",
        "GetObject": "Key VersionId Bucket=bucket_name",
        "PutObject": "Key Bucket=bucket_name",
        "GetObjectAcl": "Key VersionId Bucket=bucket_name",
        "ListObjectsV2": "Prefix Bucket=bucket_name",
        "ListObjects": "Prefix Bucket=bucket_name",
        "GetObjectTagging": "Key VersionId Bucket=bucket_name",
        "PutObjectTagging": "Key VersionId Bucket=bucket_name",
        "ListVersions": "Prefix Bucket=bucket_name",
        "SetObjectAcl": "Key VersionId Bucket=bucket_name",
        "UploadPart": "Key Bucket=bucket_name",
        "DeleteObject": "Key Bucket=bucket_name",
        "DeleteVersion": "Key VersionId Bucket=bucket_name",
        "ListParts": "Key Bucket=bucket_name",
        "RestoreObject": "Key VersionId Bucket=bucket_name",
        "RestoreObjectV2": "Key VersionId Bucket=bucket_name",
        "DeleteObjectTagging": "Key VersionId Bucket=bucket_name",
        "ListMultipartUploads": "Prefix Bucket=bucket_name",
        "CompleteMultipartUpload": "Key Bucket=bucket_name",
        "InitiateMultipartUpload": "Key Bucket=bucket_name",
        "AbortMultipartUpload": "Key Bucket=bucket_name",
        "GeneratePresignedUrl": "Key VersionId Bucket=bucket_name",
        **dict.fromkeys(_BUCKET_ONLY.split(), "Bucket=bucket_name"),
    },
    "runtime.sagemaker": {
        "InvokeEndpoint": "EndpointName",
    },
}

#: One recorded parameter: (its name in the params or response, the name it is recorded under, "value" |
#: "keys" | "count").
Rule = tuple[str, str, str]
#: service -> operation -> (request rules, response rules), parsed from RULES on first use.
_parsed: dict[str, dict[str, tuple[tuple[Rule, ...], tuple[Rule, ...]]]] = {}
_NONE: dict[str, tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}
_names: dict[Any, str] = {}

#: The call in progress in this task, for the ``before-call`` handler (None inside an untraced call).
_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar("lambda_tracer_botocore_call", default=None)
#: botocore.exceptions.ClientError, once botocore is imported (set by instrument).
_client_error: type[BaseException] | None = None
_modules = sys.modules
_new_object = object.__new__


def rules(service: str, operation: str) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """(request rules, response rules) of one operation: what the SDK records of its params and response."""
    found = _parsed.get(service, _NONE).get(operation)
    if found is None:
        text = RULES.get(service, {}).get(operation, "")
        request, _, response = text.partition(">")
        found = _parsed.setdefault(service, {})[operation] = (_parse(request), _parse(response))
    return found


def _parse(text: str) -> tuple[Rule, ...]:
    parsed = []
    for token in text.split():
        source, _, renamed = token.partition("=")
        param, _, how = source.partition(":")
        parsed.append((param, renamed or snake_case(param), how or "value"))
    return tuple(parsed)


def snake_case(name: str) -> str:
    """The SDK's ``to_snake_case`` (aws_xray_sdk/ext/util.py): ``QueueUrl`` -> ``queue_url``."""
    words = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", words).lower()


def _record(found: tuple[Rule, ...], values: Any, aws: dict[str, Any]) -> None:
    if not found or not isinstance(values, dict):
        return
    for param, name, how in found:
        if param not in values:
            continue
        value = values[param]
        if how == "keys":
            value = list(value.keys()) if isinstance(value, dict) else value
        elif how == "count":
            try:
                value = len(value)
            except TypeError:
                continue
        aws[name] = value


class Call:
    """One traced API call: its span, what it was, and botocore's request context (attempts)."""

    __slots__ = ("context", "info", "operation", "params", "span")

    def __init__(self, span: Any, info: tuple[str, str, Any, str], operation: str, params: Any) -> None:
        self.span = span
        #: The client's, from ``_client``: (service, subsegment name, region, endpoint URL).
        self.info = info
        self.operation = operation
        self.params = params
        #: botocore's request context, once ``before-call`` gave it (unset before).
        self.context: Any

    def _attempts(self) -> int:
        """Attempts made, as botocore counts them in the request context (0 if it never got that far)."""
        context = getattr(self, "context", None)
        retries = context.get("retries") if isinstance(context, dict) else None
        attempt = retries.get("attempt") if isinstance(retries, dict) else None
        return attempt if isinstance(attempt, int) else 0

    def _aws(self, metadata: Any, response: Any) -> dict[str, Any]:
        """The ``aws`` block. What botocore and AWS say (operation, region, ids, retries) is recorded as it is;
        the parameters, the caller's data, are converted and redacted like metadata."""
        aws: dict[str, Any] = {"operation": self.operation}
        region = self.info[2]
        if isinstance(region, str) and region:
            aws["region"] = region
        retries = metadata.get("RetryAttempts") if isinstance(metadata, dict) else None
        if isinstance(metadata, dict):
            request_id = metadata.get("RequestId")
            if isinstance(request_id, str) and request_id:
                aws["request_id"] = request_id
        if not isinstance(retries, int):
            retries = max(self._attempts() - 1, 0)
        aws["retries"] = retries
        service = self.info[0]
        request_rules, response_rules = _parsed.get(service, _NONE).get(self.operation) or rules(
            service, self.operation
        )
        if request_rules or (response_rules and response is not None):
            self._recorded(aws, request_rules, response_rules, response)
        return aws

    def succeeded(self, result: Any) -> None:
        """The response recorded and the span ended: ``_aws``, ``common.set_response`` and ``common.end`` for a
        response botocore made (its metadata a dict, a status, a Content-Length as text), without their calls."""
        span = self.span
        try:
            metadata: Any = result.get("ResponseMetadata") if result.__class__ is dict else None
            headers: Any = metadata.get("HTTPHeaders") if metadata.__class__ is dict else None
            service, _, region, _ = self.info
            found = _parsed.get(service, _NONE).get(self.operation)
            if headers.__class__ is not dict or found is None:
                self._succeeded(result)
            else:  # _aws and set_response inlined, byte for byte (a class test first: isinstance is a call)
                aws: dict[str, Any] = {"operation": self.operation}
                if (region.__class__ is str or isinstance(region, str)) and region:
                    aws["region"] = region
                request_id = metadata.get("RequestId")
                if (request_id.__class__ is str or isinstance(request_id, str)) and request_id:
                    aws["request_id"] = request_id
                retries = metadata.get("RetryAttempts")
                if retries.__class__ is int or isinstance(retries, int):
                    aws["retries"] = retries
                else:
                    aws["retries"] = max(self._attempts() - 1, 0)
                if found[0] or found[1]:
                    self._recorded(aws, found[0], found[1], result)
                id_2 = headers.get("x-amz-id-2")
                if id_2.__class__ is str or isinstance(id_2, str):
                    aws["id_2"] = id_2
                span.aws = aws
                status = metadata.get("HTTPStatusCode")
                length = headers.get("content-length")
                if status.__class__ is not int or (length is not None and length.__class__ is not str):
                    common.set_response(span, status, length)
                else:
                    response: dict[str, Any] = {"status": status}
                    if length is not None and 0 < len(length) <= 20 and length.isdigit():
                        response["content_length"] = int(length)
                    http = span.http if span.http is not None else {}
                    http["response"] = response
                    span.http = http
                    if status >= 400:
                        common.set_response(span, status, length)  # the flags its status means
        except Exception as error:
            common.report("recording an AWS response", error)
        try:
            span.end()
        except Exception as error:
            common.report("ending a call", error)

    def _recorded(self, aws: dict[str, Any], request_rules: Any, response_rules: Any, response: Any) -> None:
        """The parameters the SDK records (``_aws``'s part for them), converted and redacted like metadata."""
        recorded: dict[str, Any] = {}
        _record(request_rules, self.params, recorded)
        if response is not None:
            _record(response_rules, response, recorded)
        if recorded:
            converted = capture.to_metadata(recorded, redaction.current(), config.max_capture_bytes())
            if isinstance(converted, dict):
                aws.update(converted)

    def _succeeded(self, result: Any) -> None:
        """``succeeded``'s general path: any response (raises what it raises)."""
        metadata = result.get("ResponseMetadata") if isinstance(result, dict) else None
        aws = self._aws(metadata, result)
        headers = metadata.get("HTTPHeaders") if isinstance(metadata, dict) else None
        if isinstance(headers, dict) and isinstance(headers.get("x-amz-id-2"), str):
            aws["id_2"] = headers["x-amz-id-2"]
        self.span.aws = aws
        if isinstance(metadata, dict):
            length = headers.get("content-length") if isinstance(headers, dict) else None
            common.set_response(self.span, metadata.get("HTTPStatusCode"), length)

    def failed(self, error: BaseException) -> None:
        try:
            response = getattr(error, "response", None)
            is_client_error = _client_error is not None and isinstance(error, _client_error)
            metadata = response.get("ResponseMetadata") if is_client_error and isinstance(response, dict) else None
            self.span.aws = self._aws(metadata, None)
            status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
            if isinstance(error, Exception):
                # A 4xx ClientError is the caller's error (X-Ray's error means a 4xx); any other exception is a
                # fault, as the SDK's add_exception makes it (a 3xx ClientError included: its status sets no
                # flag). The SDK calls a ClientError remote. No answer at all: a fault of this call.
                caller = isinstance(status, int) and not isinstance(status, bool) and 400 <= status < 500
                common.set_exception(self.span, error, remote=is_client_error, fault=not caller)
                if caller:
                    self.span.error = True
            if isinstance(metadata, dict):
                headers = metadata.get("HTTPHeaders")
                length = headers.get("content-length") if isinstance(headers, dict) else None
                common.set_response(self.span, status, length)
        except Exception as failure:
            common.report("recording an AWS error", failure)
        common.end(self.span)


def _before_call(params: Any = None, context: Any = None, **kwargs: Any) -> None:
    """A traced call is about to be sent: its ``X-Amzn-Trace-Id`` (this call as Parent) in the request's headers
    (every attempt is made from them), and botocore's request context kept (it counts the attempts)."""
    call = _current.get()
    if call is None:
        return
    call.context = context
    span = call.span
    if config.ENVIRON.get(common.PROPAGATORS_KEY) is None:  # common.trace_headers' default, without its call
        try:
            value = span.outgoing_header() if span.trace.sampled == "1" else None
        except Exception as error:
            common.report("making the trace header", error)
            return
        if value is not None:
            try:
                params["headers"][common.XRAY_HEADER] = value
            except Exception as error:
                common.report("adding the trace header", error)
            return
    for header, value in common.trace_headers(span, aws=True):
        try:
            params["headers"][header] = value
        except Exception as error:
            common.report("adding the trace header", error)


def _register(client: Any) -> None:
    """Our ``before-call`` handler on the client's own event system, once per emitter."""
    events = client.meta.events
    if getattr(events, _REGISTERED, False):
        return
    events.register("before-call", _before_call, unique_id="lambda_tracer.before-call")
    setattr(events, _REGISTERED, True)


def _name(service: Any) -> str:
    """The subsegment name of a service: its endpoint prefix, as the SDK names it (valid for X-Ray)."""
    name = _names.get(service)
    if name is None:
        name = _names[service] = capture.clean_name(str(service))
    return name


def _client(client: Any) -> tuple[str, str, Any, str]:
    """(endpoint prefix, subsegment name, region, endpoint URL) of a client, read on its first traced call (botocore
    fixes them when it makes the client; ``ClientMeta``'s properties are a Python call each), with our
    ``before-call`` handler registered on its emitter."""
    service = client._service_model.metadata["endpointPrefix"]
    meta = client.meta
    info = (str(service), _name(service), meta.region_name, meta.endpoint_url or "")
    _register(client)
    client.__dict__[_CLIENT] = info
    return info


def instrument(name: str, client_module: ModuleType) -> None:
    """Wrap ``botocore.client.BaseClient._make_api_call`` (``client_module`` is botocore.client)."""
    global _client_error
    base = client_module.BaseClient
    original = base._make_api_call
    if getattr(original, MARKER, False):
        return
    if getattr(client_module, "_xray_enabled", False):
        # The SDK's patch got there first (user code called it): it records into our trace already.
        return
    from botocore.exceptions import ClientError

    _client_error = ClientError

    @functools.wraps(original)
    def _make_api_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The call to record (a Call), IGNORED, or None; what _start did, inlined (one Python call less per call).
        call: Any = None
        span = None
        try:
            operation = kwargs["operation_name"] if "operation_name" in kwargs else args[0]
            info = self.__dict__.get(_CLIENT) or _client(self)
            service = info[0]
            if service == "xray" and operation in _XRAY_POLLERS:
                pass
            elif (rules := _modules.get(common.ENDPOINTS)) is not None and rules.is_ignored(info[3]):
                call = common.IGNORED
            else:
                span = common.BACKEND.start_span(info[1], namespace="aws")  # None: no sampled trace
                if span is not None:
                    call = _new_object(Call)  # Call(...) without its __init__ call
                    call.span = span
                    call.info = info
                    call.operation = operation if operation.__class__ is str else str(operation)
                    call.params = (
                        kwargs["api_params"] if "api_params" in kwargs else (args[1] if len(args) > 1 else None)
                    )
        except Exception as error:
            common.report("starting an AWS call", error)
            if span is not None:
                common.end(span)
            call = None
        if call is None or call is common.IGNORED:
            if call is None and _current.get() is None:
                return original(self, *args, **kwargs)
            token = _current.set(None)  # a call inside a traced one, not traced itself: not with its header
            try:
                if call is None:
                    return original(self, *args, **kwargs)
                with common.BACKEND.suppressed():
                    return original(self, *args, **kwargs)
            finally:
                _current.reset(token)
        token = _current.set(call)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as error:
            _current.reset(token)
            call.failed(error)
            raise
        _current.reset(token)
        call.succeeded(result)
        return result

    setattr(_make_api_call, MARKER, True)
    base._make_api_call = _make_api_call
    # The SDK's own guard: its botocore patch (patch_all() in user code) would record every call a second time.
    setattr(client_module, "_xray_enabled", True)  # noqa: B010 (not an attribute botocore declares)
