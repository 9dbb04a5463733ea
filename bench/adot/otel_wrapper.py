"""The bench's stand-in for ADOT's ``otel_wrapper.py`` (lambda-layer/src/otel_wrapper.py of
aws-observability/aws-otel-python-instrumentation, Apache-2.0, as of the 0.21.0 layer), written for this bench
from that file's documented behaviour, not copied.

``_HANDLER`` points here (the exec wrapper stashed the user's in ``ORIG_HANDLER``). On import, as the layer's
does: in fast start (``OTEL_AWS_LAMBDA_FAST_START=true``) the distro's lite SDK is configured (its own
TracerProvider, batching per invocation, OTLP over UDP to the X-Ray daemon, botocore/requests/urllib3
instrumented); then the handler is instrumented with ``AwsLambdaInstrumentor`` and a context extractor that
prefers Lambda's ``_X_AMZN_TRACE_ID`` over the event's headers; then the user's module is imported and its
handler exported as ``lambda_handler``.
"""

import logging
import os
from importlib import import_module

if os.environ.get("OTEL_AWS_LAMBDA_FAST_START", "false").lower() == "true":
    try:
        from amazon.opentelemetry.distro.opentelemetry_lite_sdk import configure_lite_mode

        configure_lite_mode()
    except Exception:
        logging.getLogger(__name__).error("fast start: the lite SDK could not be configured", exc_info=True)

from opentelemetry.context import Context
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import get_current_span

TRACE_HEADER = "X-Amzn-Trace-Id"


def _event_context(event):
    """The parent context: Lambda's trace header (the environment) wins over the event's own headers."""
    headers = event.get("headers") if isinstance(event, dict) else None
    headers = dict(headers) if isinstance(headers, dict) else {}
    lambda_header = os.environ.get("_X_AMZN_TRACE_ID")
    if lambda_header:
        headers = {key: value for key, value in headers.items() if key.lower() != TRACE_HEADER.lower()}
        headers[TRACE_HEADER] = lambda_header
    context = get_global_textmap().extract(headers)
    return context if get_current_span(context).get_span_context() else Context()


# The upstream instrumentation (standing in for the layer's copy) warns on every invocation when the meter provider
# has no force_flush, as the lite SDK's has not; silenced, so that fast start is not charged for a log line the
# layer's own copy need not write.
if os.environ.get("OTEL_AWS_LAMBDA_FAST_START", "false").lower() == "true":
    logging.getLogger("opentelemetry.instrumentation.aws_lambda").setLevel(logging.ERROR)

AwsLambdaInstrumentor().instrument(event_context_extractor=_event_context)

_module, _, _name = os.environ["ORIG_HANDLER"].rpartition(".")
lambda_handler = getattr(import_module(_module.replace("/", ".")), _name)
