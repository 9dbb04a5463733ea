"""One sandbox, in process, for the instruction counts (bench/instructions.py runs it under cachegrind).

It runs on the bench's runtime interpreter (awslambdaric and boto3 only) and does what Lambda's
bootstrap.py does, in the same order: import the runtime (awslambdaric and its bootstrap), put the task
root and the layers on ``sys.path``, then ``bootstrap.run(_HANDLER, client)``: the runtime's own loop,
logging setup, handler resolution, event unmarshalling and response marshalling. Only the Runtime API is
replaced, by an in-process client that hands out ``N`` prepared events (each with a new trace header) and
then ends the process with ``os._exit``: no interpreter teardown, which Lambda never runs, and no HTTP
round trip, whose poll loop would add noise. ``N = 0`` stops right after the runtime's imports: the prefix
every count shares, subtracted from all of them.

    python harness.py N EVENT_FILE [--no-freeze] [--mark]
    python harness.py --loads N JSON_FILE           # N x json.loads of the file's text (the cost-shape unit)

``--no-freeze`` makes ``gc.freeze()`` a no-op, so a cold start is compared like for like: the tracer's own
cost apart from the collector's saving. ``--mark`` calls ``getppid()`` as each event is asked for, so that callgrind's
``--dump-before=getppid`` splits the count per invocation (bench/warmup.py: where the interpreter stops warming
up). Only the standard library and awslambdaric are used here.
"""

import os
import sys

del sys.path[0]  # this script's directory (bench/): Lambda's is /var/runtime, nothing the function imports

ARGS = sys.argv[1:]
if ARGS[:1] == ["--loads"]:
    import json

    with open(ARGS[2], encoding="utf-8") as source:
        text = source.read()
    for _ in range(int(ARGS[1])):
        json.loads(text)
    os._exit(0)

# The runtime, as Lambda's bootstrap.py imports it before any user path exists.
import awslambdaric.__main__  # noqa: E402, F401
from awslambdaric import bootstrap  # noqa: E402
from awslambdaric.lambda_runtime_client import InvocationRequest  # noqa: E402
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller  # noqa: E402

INVOCATIONS = int(ARGS[0])
with open(ARGS[1], "rb") as event_file:
    EVENT = event_file.read()
NO_FREEZE = "--no-freeze" in ARGS[2:]
MARK = "--mark" in ARGS[2:]
OPT = os.environ.pop("LAMBDA_TRACER_BENCH_OPT", "/opt")
if INVOCATIONS == 0:
    os._exit(0)


class Client:
    """The Runtime API, in process: N events, then the end of the sandbox (no teardown)."""

    marshaller = LambdaMarshaller()

    def __init__(self, invocations: int) -> None:
        self.left = invocations
        self.served = 0
        self.arn = "arn:aws:lambda:us-east-1:123456789012:function:" + os.environ["AWS_LAMBDA_FUNCTION_NAME"]

    def wait_next_invocation(self) -> InvocationRequest:
        if MARK:
            os.getppid()  # callgrind --dump-before=getppid: one part per invocation
        if not self.left:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        self.left -= 1
        self.served += 1
        n = self.served
        return InvocationRequest(
            invoke_id=f"c6af9ac6-7b61-11e6-9a41-{n:012x}",
            x_amzn_trace_id=f"Root=1-5759e988-{n:024x};Parent={0x53995C3F42CD8A00 + n:016x};Sampled=1",
            invoked_function_arn=self.arn,
            deadline_time_in_ms=str(4102444800000),
            client_context=None,
            cognito_identity=None,
            tenant_id=None,
            content_type="application/json",
            event_body=EVENT,
            invocation_id=None,
        )

    def post_invocation_result(self, invoke_id, result_data, content_type="application/json", invocation_id=None):
        if not result_data:
            os.write(2, b"harness: empty response\n")
            os._exit(3)

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault, invocation_id=None):
        os.write(2, b"harness: the function failed: " + str(error_response_data)[:2000].encode() + b"\n")
        os._exit(3)

    def post_init_error(self, error_response_data, error_type_override=None):
        os.write(2, b"harness: init failed: " + str(error_response_data)[:2000].encode() + b"\n")
        os._exit(4)


def main() -> None:
    import site

    if NO_FREEZE:
        import gc

        gc.freeze = lambda: None
    # What Lambda's bootstrap.py does next: layers (only while PYTHONPATH is unset), then the task root first.
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    pythonpath_unset = "PYTHONPATH" not in os.environ
    version = "python{}.{}".format(*sys.version_info[:2])
    layers = [os.path.join(OPT, "python", "lib", version, "site-packages"), os.path.join(OPT, "python")]
    layers = layers if pythonpath_unset else []
    sys.path[0:0] = layers
    sys.path.insert(0, task_root)
    site.addsitedir(task_root)
    for path in layers:
        site.addsitedir(path)
    if pythonpath_unset:
        os.environ["PYTHONPATH"] = os.environ["LAMBDA_RUNTIME_DIR"]
    bootstrap.run(os.environ["_HANDLER"], Client(INVOCATIONS))


main()
