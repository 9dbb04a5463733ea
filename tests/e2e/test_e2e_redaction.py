"""Secrets stay in the function: real payloads, through the built layer and the real runtime client.

Every test invokes a function that handles real secrets the way functions do, in both modes (zero-code:
an unchanged handler behind the exec wrapper; in-code: ``from lambda_tracer import Tracer`` with the layer
on the path and no wrapper, the handler also recording what it got with ``put_metadata``). One runtime
process per mode serves the whole module; the local runtime splits the process's output per invocation
(``Invocation.output``, cut exactly where the runtime posted its answer). Each test checks:

1. no marked secret reaches any datagram the X-Ray daemon stand-in received (raw bytes, and every
   string of the decoded document, JSON strings inside strings included) nor any line the function's
   process wrote, except the runtime's own report of an unhandled error, which Lambda writes with or
   without the layer;
2. what the caller gets back is exactly what the function returned (tracing never alters a result);
3. the non-secret parts are still recorded, and ``[REDACTED]`` stands where a secret was.

Where the payloads come from:

* ``payloads/apigw_rest_event.json`` and ``payloads/apigw_http_event.json``: the templates of
  ``sam local generate-event apigateway aws-proxy`` / ``http-api-proxy`` (aws/aws-sam-cli,
  ``samcli/lib/generated_sample_events/events/apigateway/AwsProxy.json`` and ``HttpApi.json``), rendered
  for ``POST /login``, with secrets where real ones live: ``Authorization``, ``Cookie`` / the v2
  ``cookies`` list, ``x-api-key`` and ``requestContext.identity.apiKey`` (REST API keys), ``?api_key=``
  in the query string, and a JSON ``body`` with a password.
* ``payloads/apigw_*_response.json``: the proxy responses a login route returns (``Set-Cookie``,
  v2 ``cookies``, a JSON body with tokens).
* Cognito ``initiate_auth`` / ``admin_initiate_auth``, Secrets Manager ``get_secret_value`` and STS
  ``assume_role`` / ``get_session_token``: real botocore-parsed responses from a moto server on
  127.0.0.1 (datetimes and ``ResponseMetadata`` included), and the function's own credentials
  (``Credentials``, ``ReadOnlyCredentials``) from its environment.
* Failing calls: ``json.loads`` of a malformed body, ``requests`` against a local server answering 404
  with ``?api_key=`` in the URL, ``requests`` with credentials in the URL, and a CLI tool that exits 2
  with the password on its command line.

Marked secrets look like ``SECRET-<place>-<hex>`` (so a failure names the one that leaked); the tokens
and keys that moto makes up are marked by name (``Cognito AccessToken``...).
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from http_stub import QuietHandler, serving
from secret_scan import strings_of

from lambda_tracer_local.daemon import XRayDaemon, subsegments
from lambda_tracer_local.runtime import Invocation, LocalLambda

from .support import without_init

PAYLOADS = Path(__file__).parent / "payloads"
MARKER = "[REDACTED]"
SECRET_PATTERN = re.compile(r"SECRET-[A-Za-z0-9-]+")
SERVICE = "checkout"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/checkout-reader"
DB_SECRET_NAME = "prod/checkout/db"

#: Secrets the function holds in its environment: none may ever be recorded or logged, whatever it does.
ENV_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "SECRET-env-secret-access-key-8c2d",
    "AWS_SESSION_TOKEN": "SECRET-env-session-token-3e9a",
    "PARTNER_API_KEY": "SECRET-partner-api-key-5f3c",
    "WEBHOOK_PASSWORD": "SECRET-webhook-url-password-0c6b",
    "DB_PASSWORD": "SECRET-db-cli-password-a83e",
}
ACCESS_KEY_ID = "AKIDREDACTIONE2E0000"
COGNITO_PASSWORD = "SECRET-Cognito-pw-9d4e"  # upper, lower, digit, symbol: Cognito's default password policy
DB_SECRET_STRING = json.dumps(
    {
        "username": "app",
        "password": "SECRET-secretsmanager-db-password-b5e1",
        "engine": "postgres",
        "host": "checkout.cluster-c8xyz.us-east-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "checkout",
    }
)

# -- the function -------------------------------------------------------------------------------------

SERVICE_PY = '''
"""What a login / checkout backend does with secrets; shared by the zero-code and the in-code function."""

import json
import os
import subprocess
import sys

import boto3
import requests

HERE = os.path.dirname(os.path.abspath(__file__))

cognito = boto3.client("cognito-idp")
secrets = boto3.client("secretsmanager")
sts = boto3.client("sts")


def recorded(name):
    with open(os.path.join(HERE, "payloads", name)) as handle:
        return json.load(handle)


def returnable(result):
    """boto3 responses hold datetimes, which the runtime cannot marshal: functions convert them."""
    try:
        json.dumps(result)
    except TypeError:
        return json.loads(json.dumps(result, default=str))
    return result


def parse_body(body):
    return json.loads(body)


def api(event):
    """Both API Gateway payload versions: check the JSON body, answer with the recorded login response."""
    path = event.get("rawPath") or event["path"]
    body = parse_body(event["body"])  # JSONDecodeError on a malformed body, as in any API function
    if path.endswith("/login") and body.get("username") and body.get("password"):
        return recorded("apigw_http_response.json" if event.get("version") == "2.0" else "apigw_rest_response.json")
    return {"statusCode": 404, "body": "{}"}


def login(event):
    return cognito.initiate_auth(
        ClientId=os.environ["COGNITO_CLIENT_ID"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": event["username"], "PASSWORD": event["password"]},
    )


def admin_login(event):
    return cognito.admin_initiate_auth(
        UserPoolId=os.environ["COGNITO_USER_POOL_ID"],
        ClientId=os.environ["COGNITO_CLIENT_ID"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": event["username"], "PASSWORD": event["password"]},
    )


def db_secret(event):
    return secrets.get_secret_value(SecretId=os.environ["DB_SECRET_ID"])


def assume_role(event):
    return sts.assume_role(RoleArn=os.environ["READER_ROLE_ARN"], RoleSessionName="checkout-api")


def session_token(event):
    return sts.get_session_token(DurationSeconds=900)


def frozen_credentials(event):
    return boto3.Session().get_credentials().get_frozen_credentials()


def list_orders(event):
    params = {"page": 2, "api_key": os.environ["PARTNER_API_KEY"]}
    response = requests.get(os.environ["PARTNER_URL"] + "/v1/orders", params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def webhook_health(event):
    user, password = os.environ["WEBHOOK_USER"], os.environ["WEBHOOK_PASSWORD"]
    response = requests.get(f"http://{user}:{password}@{os.environ['WEBHOOK_HOST']}/health", timeout=10)
    return {"status": response.status_code}


def dump_database(event):
    command = [sys.executable, os.path.join(HERE, "tool.py"), "--user", "app", "--password", os.environ["DB_PASSWORD"]]
    subprocess.run(command, check=True, capture_output=True)
    return {"dumped": True}


#: action -> function name, looked up when called (so that in-code decorated versions are the ones called).
ACTIONS = {
    "login": "login",
    "admin-login": "admin_login",
    "db-secret": "db_secret",
    "assume-role": "assume_role",
    "session-token": "session_token",
    "frozen-credentials": "frozen_credentials",
    "list-orders": "list_orders",
    "webhook-health": "webhook_health",
    "dump-database": "dump_database",
}


def handle(event):
    if "httpMethod" in event or event.get("version") == "2.0":
        return api(event)
    return globals()[ACTIONS[event["action"]]](event)
'''

TOOL_PY = """
import sys

# Like many database clients, it repeats its arguments when it fails.
sys.stderr.write("tool: cannot connect with " + " ".join(sys.argv[1:]) + "\\n")
sys.exit(2)
"""

ZERO_CODE_APP = """
import service


def escape_hatch(event):
    # The SDK's recorder, which the layer configures: what a zero-code function can reach.
    from aws_xray_sdk.core import xray_recorder

    current = xray_recorder.current_subsegment()
    current.put_annotation("customer_id", event["customer_id"])
    current.put_annotation("customer", event["customer"])  # not a valid annotation value: dropped
    current.put_metadata("raw", event["raw"])
    with xray_recorder.in_subsegment("## vault") as subsegment:
        subsegment.put_metadata("vault", event["vault"])
    return {"ok": True}


def handler(event, context):
    if event.get("action") == "escape-hatch":
        return escape_hatch(event)
    return service.returnable(service.handle(event))
"""

IN_CODE_APP = """
from lambda_tracer import Tracer

import service

tracer = Tracer()

# The same functions, decorated as an in-code user would decorate them.
for _name in ("parse_body", "list_orders", "dump_database"):
    setattr(service, _name, tracer.capture_method(getattr(service, _name)))

#: Where the handler also records what it got, as users do with put_metadata.
METADATA = {
    "login": "cognito response",
    "admin-login": "cognito response",
    "db-secret": "database config",
    "assume-role": "sts response",
    "session-token": "sts response",
}


def escape_hatch(event):
    tracer.put_annotation("customer_id", event["customer_id"])
    tracer.put_annotation("customer", event["customer"])  # not a valid annotation value: dropped, with a warning
    tracer.provider.current_subsegment().put_metadata("raw", event["raw"])
    with tracer.provider.in_subsegment("## vault") as subsegment:
        subsegment.put_metadata("vault", event["vault"])
    return {"ok": True}


@tracer.capture_lambda_handler
def lambda_handler(event, context):
    action = event.get("action")
    if action == "escape-hatch":
        return escape_hatch(event)
    if action == "frozen-credentials":
        credentials = service.boto3.Session().get_credentials()
        tracer.put_metadata("credentials", credentials)
        frozen = credentials.get_frozen_credentials()
        tracer.put_metadata("frozen", frozen)
        return frozen
    if action is None:
        tracer.put_metadata("event", event)  # an API Gateway event
    result = service.handle(event)
    if action in METADATA:
        tracer.put_metadata(METADATA[action], result)  # the raw botocore response, datetimes and all
    return service.returnable(result)
"""

# -- harness ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One invocation, with the datagrams and the output it produced (and nothing of the others)."""

    event: Any
    inv: Invocation
    datagrams: list[bytes]
    output: str

    @property
    def documents(self) -> list[dict[str, Any]]:
        return self.inv.documents


class Sandbox:
    """One runtime process (one mode), serving every test of this module in turn."""

    def __init__(self, mode: str, fn_dir: Path, layer_dir: Path, env: Mapping[str, str]) -> None:
        self.mode = mode
        in_code = mode == "in-code"
        self.handler_name = "lambda_handler" if in_code else "handler"
        self.response_key = f"{self.handler_name} response"
        self.daemon = XRayDaemon()
        self.fn = LocalLambda(
            fn_dir,
            "app.lambda_handler" if in_code else "app.handler",
            opt_dirs=[layer_dir],
            wrapper=not in_code,
            env=dict(env),
            daemon=self.daemon,
        )

    def run(self, event: Any) -> Run:
        start_raw = len(self.daemon.datagrams())
        inv = self.fn.invoke(event)  # returns once the daemon has every datagram sent before the reply
        datagrams = self.daemon.datagrams(start_raw)
        return Run(event, inv, datagrams, (inv.init_output or "") + inv.output)

    def close(self) -> None:
        self.fn.close()
        self.daemon.close()


JSON = object()
"""A ``dig`` step: parse the JSON string found there."""


def dig(value: Any, *path: Any) -> Any:
    """``value[a][b]...``; a failing step says what was found there instead."""
    for step in path:
        try:
            if step is not JSON and isinstance(value, str):
                raise TypeError("a string")  # never index into "[REDACTED]"
            value = json.loads(value) if step is JSON else value[step]
        except (LookupError, TypeError, ValueError) as error:
            shown = "JSON" if step is JSON else repr(step)
            raise LookupError(f"no {shown} in {_short(value)} ({type(error).__name__})") from None
    return value


def metadata(run: Run, key: str) -> Any:
    """The metadata recorded under ``key`` (any namespace, any subsegment of the invocation)."""
    found = [
        entries[key]
        for doc in subsegments(run.documents)
        for entries in (doc.get("metadata") or {}).values()
        if isinstance(entries, dict) and key in entries
    ]
    if not found:
        keys = sorted(k for d in subsegments(run.documents) for e in (d.get("metadata") or {}).values() for k in e)
        raise LookupError(f"no {key!r} metadata; recorded: {keys}")
    return found[0]


def error_metadata(run: Run) -> list[Any]:
    """Every ``"<name> error"`` metadata of the invocation (in-code: the method's and the handler's)."""
    found = [
        value
        for doc in subsegments(run.documents)
        for entries in (doc.get("metadata") or {}).values()
        if isinstance(entries, dict)
        for key, value in entries.items()
        if key.endswith(" error")
    ]
    if not found:
        raise LookupError("no error metadata recorded")
    return found


def subsegment(run: Run, name: str) -> dict[str, Any]:
    found = [doc for doc in subsegments(run.documents) if doc.get("name") == name]
    if len(found) != 1:
        raise LookupError(
            f"{len(found)} {name!r} subsegments among {[d.get('name') for d in subsegments(run.documents)]}"
        )
    return found[0]


def recorded_exception(run: Run) -> dict[str, Any]:
    """The exception X-Ray records (``cause.exceptions``) where it was raised; in code that is the traced
    method's subsegment, and the handler's ``cause`` is only that exception's id."""
    for doc in subsegments(without_init(run.documents)):  # a failed optional import in ## init is not it
        cause = doc.get("cause")
        if isinstance(cause, dict) and cause.get("exceptions"):
            return dict(cause["exceptions"][0])
    raise LookupError("no subsegment has cause.exceptions")


def remote(run: Run) -> dict[str, Any]:
    """The one HTTP client subsegment (``requests``) of the invocation."""
    found = [doc for doc in subsegments(run.documents) if doc.get("namespace") == "remote"]
    if len(found) != 1:
        raise LookupError(
            f"{len(found)} remote subsegments among {[d.get('name') for d in subsegments(run.documents)]}"
        )
    return found[0]


def _forms(secret: str) -> set[str]:
    """How a secret can be spelled in a datagram or a log line."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(json.dumps(secret)[1:-1])[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }


def marked_secrets(*values: Any) -> dict[str, str]:
    """``SECRET-...`` strings found in these values (events, expected responses), by themselves."""
    text = json.dumps(values)
    return {secret: secret for secret in SECRET_PATTERN.findall(text)}


def token_secrets(label: str, token: str) -> dict[str, str]:
    """A token made up by moto; a JWT's signature is also looked for on its own."""
    found = {label: token}
    if token.count(".") == 2:
        found[f"{label} (JWT signature)"] = token.rsplit(".", 1)[1]
    return found


@dataclass
class Findings:
    """Collects every leak and every missing part of a test, and fails once listing them all."""

    sandbox: Sandbox
    problems: list[str] = field(default_factory=list)

    def no_leaks(self, run: Run, secrets: Mapping[str, str]) -> None:
        """No secret in any datagram of ``run`` (raw or decoded) nor in any line its process wrote."""
        secrets = {**secrets, **{f"${name}": value for name, value in ENV_SECRETS.items()}}
        what = run.event.get("action") or run.event.get("routeKey") or run.event.get("path")
        if not any(doc.get("name") == f"## {self.sandbox.handler_name}" for doc in subsegments(run.documents)):
            self.problems.append(f"[{what}] nothing recorded: no '## {self.sandbox.handler_name}' subsegment")
        for index, data in enumerate(run.datagrams):
            text = data.decode("utf-8", "replace")
            try:
                decoded = list(strings_of(json.loads(text.split("\n", 1)[1])))
            except (ValueError, IndexError):
                decoded = [("<undecodable datagram>", text)]
            for label, secret in secrets.items():
                forms = _forms(secret)
                places = [path for path, string in decoded if any(form in string for form in forms)]
                if places:
                    self.problems.append(f"[{what}] LEAK {label}: datagram {index} at {', '.join(places[:4])}")
                elif any(form in text for form in forms):
                    self.problems.append(f"[{what}] LEAK {label}: datagram {index} (raw bytes)")
        for line in self._logged_lines(run):
            for label, secret in secrets.items():
                if any(form in line for form in _forms(secret)):
                    self.problems.append(f"[{what}] LEAK {label}: log line {line[:300]!r}")

    @staticmethod
    def _logged_lines(run: Run) -> list[str]:
        """The lines of ``run``'s output, without the runtime's own report of the handler's error.

        awslambdaric writes ``[ERROR] <type>: <message>`` and the stack trace as one line (frames joined
        with ``\\r``) for every unhandled error, layer or not: that line is the runtime's, not the tracer's.
        """
        lines = run.output.split("\n")
        if run.inv.status == "error" and run.inv.error_type:
            lines = [line for line in lines if not line.startswith(f"[ERROR] {run.inv.error_type}:")]
        return lines

    def check(self, what: str, get: Callable[[], Any], expected: Any = None, *, holds: Any = None) -> None:
        """``get()`` equals ``expected`` (or satisfies the predicate ``holds``); a failure to read is a problem."""
        try:
            value = get()
        except Exception as error:
            self.problems.append(f"MISSING {what}: {error}")
            return
        ok = holds(value) if holds is not None else value == expected
        if not ok:
            wanted = "as expected" if holds is not None else repr(expected)
            self.problems.append(f"MISSING {what}: got {_short(value)}, wanted {wanted}")

    def meta(self, run: Run, key: str, *path: Any, equals: Any = None, holds: Any = None) -> None:
        shown = "".join("<json>" if step is JSON else f"[{step!r}]" for step in path)
        self.check(f"metadata {key!r}{shown}", lambda: dig(metadata(run, key), *path), equals, holds=holds)

    def response(self, run: Run, *path: Any, equals: Any = None, holds: Any = None) -> None:
        self.meta(run, self.sandbox.response_key, *path, equals=equals, holds=holds)

    def errors(self, run: Run, *path: Any, equals: Any = None, holds: Any = None) -> None:
        """Every error metadata of ``run`` has this part."""
        shown = "".join(f"[{step!r}]" for step in path)

        def each() -> list[Any]:
            return [dig(error, *path) for error in error_metadata(run)]

        if holds is None:
            self.check(f"error metadata{shown}", each, holds=lambda values: all(v == equals for v in values))
        else:
            self.check(f"error metadata{shown}", each, holds=lambda values: all(holds(v) for v in values))

    def unchanged(self, run: Run, expected: Any) -> None:
        """The caller gets exactly what the function returned."""
        self.check("the response, unchanged for the caller", lambda: run.inv.payload, expected)

    def raised(self, run: Run, error_type: str, message: Callable[[str], bool]) -> None:
        """The caller gets the function's own exception, unchanged."""
        self.check("an error for the caller", lambda: run.inv.status, "error")
        self.check("the error type, unchanged for the caller", lambda: run.inv.error_type, error_type)
        self.check("the error message, unchanged for the caller", lambda: run.inv.error_message, holds=message)

    def verdict(self) -> None:
        assert not self.problems, f"{self.sandbox.mode}: {len(self.problems)} problem(s)\n" + "\n".join(self.problems)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 400 else text[:400] + "..."


def masked_cookie(name: str, attributes: str = "") -> Callable[[Any], bool]:
    """A cookie whose name (and attributes) are kept and whose value is masked."""
    return lambda value: (
        isinstance(value, str)
        and value.startswith(f"{name}=")
        and MARKER in value
        and (value.endswith(attributes) if attributes else True)
    )


def kept_cookie(name: str, attributes: str = "") -> Callable[[Any], bool]:
    """A non-secret cookie: its name and attributes are kept (its value may be masked or not)."""
    return lambda value: isinstance(value, str) and value.startswith(f"{name}=") and value.endswith(attributes)


def contains_marker(value: Any) -> bool:
    return MARKER in json.dumps(value)


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


# -- fixtures -----------------------------------------------------------------------------------------


@dataclass
class Aws:
    url: str
    user_pool_id: str
    client_id: str


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """A moto server with what the function uses: a Cognito user, a database secret (STS needs nothing)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "AKIDTESTING000000000", "aws_secret_access_key": "testing"}
    cognito = boto3.client("cognito-idp", endpoint_url=url, region_name=REGION, **keys)
    pool = cognito.create_user_pool(PoolName="checkout-users")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="checkout-web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=COGNITO_PASSWORD, Permanent=True)
    secretsmanager = boto3.client("secretsmanager", endpoint_url=url, region_name=REGION, **keys)
    secretsmanager.create_secret(Name=DB_SECRET_NAME, SecretString=DB_SECRET_STRING)
    yield Aws(url, pool, client)
    server.stop()


class _Partner(QuietHandler):
    """A partner API that does not know ``/v1/orders``, and a webhook receiver answering ``/health``."""

    def do_GET(self) -> None:
        found = self.path == "/health"
        self.reply(200 if found else 404, b'{"ok": true}' if found else b'{"message": "Not Found"}')


@pytest.fixture(scope="module")
def partner() -> Iterator[str]:
    with serving(_Partner) as port:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="module", params=["zero-code", "in-code"])
def fn(
    request: pytest.FixtureRequest,
    layer_dir: Path,
    aws: Aws,
    partner: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Sandbox]:
    mode = request.param
    fn_dir = tmp_path_factory.mktemp(mode)
    app = ZERO_CODE_APP if mode == "zero-code" else IN_CODE_APP
    for name, source in {"app.py": app, "service.py": SERVICE_PY, "tool.py": TOOL_PY}.items():
        (fn_dir / name).write_text(textwrap.dedent(source).lstrip("\n"))
    shutil.copytree(PAYLOADS, fn_dir / "payloads")
    env = {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_EC2_METADATA_DISABLED": "true",
        "COGNITO_USER_POOL_ID": aws.user_pool_id,
        "COGNITO_CLIENT_ID": aws.client_id,
        "DB_SECRET_ID": DB_SECRET_NAME,
        "READER_ROLE_ARN": ROLE_ARN,
        "PARTNER_URL": f"http://{partner}",
        "WEBHOOK_HOST": partner,
        "WEBHOOK_USER": "alice",
        **ENV_SECRETS,
    }
    sandbox = Sandbox(mode, fn_dir, layer_dir, env)
    try:
        yield sandbox
    finally:
        sandbox.close()


# -- API Gateway --------------------------------------------------------------------------------------


def test_rest_api_login(fn: Sandbox) -> None:
    """REST API (v1 proxy) event in, proxy response with Set-Cookie and tokens out."""
    event, expected = load("apigw_rest_event.json"), load("apigw_rest_response.json")
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event, expected))
    f.unchanged(run, expected)
    f.response(run, "statusCode", equals=200)
    f.response(run, "isBase64Encoded", equals=False)
    f.response(run, "headers", "Content-Type", equals="application/json")
    f.response(run, "headers", "Set-Cookie", equals="session=[REDACTED]; Path=/; HttpOnly")
    f.response(run, "multiValueHeaders", "Set-Cookie", 0, equals="session=[REDACTED]; Path=/; HttpOnly")
    f.response(run, "multiValueHeaders", "Set-Cookie", 1, holds=kept_cookie("theme", "; Path=/; Max-Age=31536000"))
    f.response(run, "body", holds=lambda body: isinstance(body, str))  # still a JSON string
    f.response(run, "body", JSON, "user", equals="alice")
    f.response(run, "body", JSON, "expires_in", equals=3600)
    f.response(run, "body", JSON, "token_type", equals="Bearer")
    f.response(run, "body", JSON, "access_token", equals=MARKER)
    f.response(run, "body", JSON, "refresh_token", equals=MARKER)
    if fn.mode == "in-code":  # tracer.put_metadata("event", event)
        f.meta(run, "event", "httpMethod", equals="POST")
        f.meta(run, "event", "path", equals="/login")
        f.meta(run, "event", "headers", "Accept", equals="application/json")
        f.meta(run, "event", "headers", "User-Agent", equals="Custom User Agent String")
        f.meta(run, "event", "headers", "Authorization", equals=MARKER)
        f.meta(run, "event", "headers", "x-api-key", equals=MARKER)
        f.meta(run, "event", "headers", "Cookie", holds=lambda v: "session=" in v and "theme=" in v and MARKER in v)
        f.meta(run, "event", "multiValueHeaders", "Authorization", holds=contains_marker)
        f.meta(run, "event", "queryStringParameters", "page", equals=MARKER)  # names kept, every value masked
        f.meta(run, "event", "queryStringParameters", "api_key", equals=MARKER)
        f.meta(run, "event", "multiValueQueryStringParameters", "page", equals=MARKER)
        f.meta(run, "event", "requestContext", "identity", "apiKey", equals=MARKER)
        f.meta(run, "event", "requestContext", "identity", "accessKey", equals=None)  # None is kept
        f.meta(run, "event", "requestContext", "identity", "sourceIp", equals="127.0.0.1")
        f.meta(run, "event", "body", JSON, "username", equals="alice")
        f.meta(run, "event", "body", JSON, "remember_me", equals=True)
        f.meta(run, "event", "body", JSON, "password", equals=MARKER)
    f.verdict()


def test_http_api_login(fn: Sandbox) -> None:
    """HTTP API (v2) event in (cookies list, rawQueryString), v2 response with a cookies list out."""
    event, expected = load("apigw_http_event.json"), load("apigw_http_response.json")
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event, expected))
    f.unchanged(run, expected)
    f.response(run, "statusCode", equals=200)
    f.response(run, "headers", "Content-Type", equals="application/json")
    f.response(run, "cookies", 0, equals="session=[REDACTED]; Path=/; HttpOnly")
    f.response(run, "cookies", 1, holds=kept_cookie("theme", "; Path=/; Max-Age=31536000"))
    f.response(run, "body", JSON, "user", equals="alice")
    f.response(run, "body", JSON, "expires_in", equals=3600)
    f.response(run, "body", JSON, "token_type", equals="Bearer")
    f.response(run, "body", JSON, "access_token", equals=MARKER)
    f.response(run, "body", JSON, "refresh_token", equals=MARKER)
    if fn.mode == "in-code":
        f.meta(run, "event", "routeKey", equals="POST /v2/login")
        f.meta(run, "event", "requestContext", "http", "path", equals="/v2/login")
        f.meta(run, "event", "headers", "user-agent", equals="agent")
        f.meta(run, "event", "headers", "authorization", equals=MARKER)
        f.meta(run, "event", "cookies", 0, holds=masked_cookie("session"))
        f.meta(run, "event", "cookies", 1, holds=kept_cookie("theme"))
        names = ["page", "api_key"]
        f.meta(run, "event", "rawQueryString", holds=lambda q: [p.split("=")[0] for p in q.split("&")] == names)
        f.meta(run, "event", "rawQueryString", holds=lambda q: "api_key=[REDACTED]" in q)
        f.meta(run, "event", "queryStringParameters", "page", equals=MARKER)  # names kept, every value masked
        f.meta(run, "event", "queryStringParameters", "api_key", equals=MARKER)
        f.meta(run, "event", "body", JSON, "username", equals="alice")
        f.meta(run, "event", "body", JSON, "password", equals=MARKER)
    f.verdict()


# -- AWS responses (moto) -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["login", "admin-login"])
def test_cognito_tokens(fn: Sandbox, action: str) -> None:
    """Cognito initiate_auth / admin_initiate_auth: the tokens go, TokenType and ExpiresIn stay."""
    event = {"action": action, "username": "alice", "password": COGNITO_PASSWORD}
    run = fn.run(event)
    f = Findings(fn)
    assert run.inv.status == "response", run.inv.error_message
    result = run.inv.payload["AuthenticationResult"]
    secrets = marked_secrets(event)
    for name in ("AccessToken", "IdToken", "RefreshToken"):
        assert isinstance(result.get(name), str) and result[name] != MARKER, f"{name}: {result.get(name)!r}"
        secrets.update(token_secrets(f"Cognito {name}", result[name]))
    f.no_leaks(run, secrets)
    f.check("the response, unchanged for the caller", lambda: contains_marker(run.inv.payload), False)
    f.check("the response's TokenType", lambda: result["TokenType"], "Bearer")
    keys = [fn.response_key, "cognito response"] if fn.mode == "in-code" else [fn.response_key]
    for key in keys:
        f.meta(run, key, "AuthenticationResult", "TokenType", equals="Bearer")
        f.meta(run, key, "AuthenticationResult", "ExpiresIn", equals=3600)
        for name in ("AccessToken", "IdToken", "RefreshToken"):
            f.meta(run, key, "AuthenticationResult", name, equals=MARKER)
        f.meta(run, key, "ResponseMetadata", "HTTPStatusCode", equals=200)
    f.verdict()


def test_secrets_manager_secret_value(fn: Sandbox) -> None:
    """get_secret_value: SecretString keeps only its shape (every value masked); the name and ARN stay."""
    event = {"action": "db-secret"}
    run = fn.run(event)
    f = Findings(fn)
    assert run.inv.status == "response", run.inv.error_message
    f.no_leaks(run, marked_secrets(DB_SECRET_STRING))
    f.check("the response's SecretString, unchanged", lambda: run.inv.payload["SecretString"], DB_SECRET_STRING)
    keys = [fn.response_key, "database config"] if fn.mode == "in-code" else [fn.response_key]
    for key in keys:
        f.meta(run, key, "Name", equals=DB_SECRET_NAME)
        f.meta(run, key, "ARN", holds=lambda arn: arn.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"))
        f.meta(run, key, "VersionStages", equals=["AWSCURRENT"])
        f.meta(run, key, "CreatedDate", holds=lambda date: isinstance(date, str) and date[:2] == "20")
        f.meta(run, key, "SecretString", holds=lambda text: isinstance(text, str))  # still a JSON string
        f.meta(
            run, key, "SecretString", JSON, holds=lambda secret: sorted(secret) == sorted(json.loads(DB_SECRET_STRING))
        )
        for name in ("username", "password", "host"):
            f.meta(run, key, "SecretString", JSON, name, equals=MARKER)
    f.verdict()


@pytest.mark.parametrize("action", ["assume-role", "session-token"])
def test_sts_credentials(fn: Sandbox, action: str) -> None:
    """assume_role / get_session_token: the secret key and session token go; the role ARN stays."""
    run = fn.run({"action": action})
    f = Findings(fn)
    assert run.inv.status == "response", run.inv.error_message
    credentials = run.inv.payload["Credentials"]
    secrets = {f"STS {name}": credentials[name] for name in ("SecretAccessKey", "SessionToken")}
    f.no_leaks(run, secrets)
    f.check("the response, unchanged for the caller", lambda: contains_marker(run.inv.payload), False)
    keys = [fn.response_key, "sts response"] if fn.mode == "in-code" else [fn.response_key]
    for key in keys:
        f.meta(run, key, "Credentials", holds=contains_marker)
        f.meta(run, key, "ResponseMetadata", "HTTPStatusCode", equals=200)
        if action == "assume-role":
            arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/checkout-reader/checkout-api"
            f.meta(run, key, "AssumedRoleUser", "Arn", equals=arn)
            f.meta(run, key, "PackedPolicySize", holds=lambda size: isinstance(size, int))
    f.verdict()


def test_function_credentials(fn: Sandbox) -> None:
    """The function's own credentials: ReadOnlyCredentials returned (and, in code, Credentials recorded)."""
    run = fn.run({"action": "frozen-credentials"})
    f = Findings(fn)
    f.no_leaks(run, {})  # the environment's secret key and session token are always looked for
    # The runtime's simplejson marshals a namedtuple as an object (ReadOnlyCredentials has an account_id too).
    expected = {"access_key": ACCESS_KEY_ID, "secret_key": ENV_SECRETS["AWS_SECRET_ACCESS_KEY"]}
    expected["token"] = ENV_SECRETS["AWS_SESSION_TOKEN"]
    f.check("the response, unchanged for the caller", lambda: {k: run.inv.payload[k] for k in expected}, expected)
    f.response(run, equals=MARKER)
    if fn.mode == "in-code":
        f.meta(run, "credentials", equals=MARKER)
        f.meta(run, "frozen", equals=MARKER)
    f.verdict()


# -- failing calls ------------------------------------------------------------------------------------


def test_failing_json_loads_of_the_body(fn: Sandbox) -> None:
    """A malformed API Gateway body with a password: JSONDecodeError.doc holds the whole body."""
    body = '{"username": "alice", "password": "SECRET-http-malformed-body-pw-6e2f" "remember_me": true}'
    event = {**load("apigw_http_event.json"), "body": body, "routeKey": "PUT /v2/profile", "rawPath": "/v2/profile"}
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    message = str(expected.value)
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.raised(run, "JSONDecodeError", lambda text: text == message)
    f.errors(run, "type", equals="JSONDecodeError")
    f.errors(run, "module", equals="json.decoder")
    f.errors(run, "message", equals=message)  # "Expecting ',' delimiter: line 1 column ... (char ...)"
    f.errors(run, "message", holds=lambda text: text.startswith("Expecting "))
    f.check("the recorded exception's type", lambda: recorded_exception(run)["type"], "JSONDecodeError")
    f.check("the recorded exception's message", lambda: recorded_exception(run)["message"], message)
    f.verdict()


def test_failing_requests_call_with_api_key_in_url(fn: Sandbox, partner: str) -> None:
    """GET ...?page=2&api_key=... answers 404, raise_for_status(): the HTTPError message holds the URL."""
    run = fn.run({"action": "list-orders"})
    f = Findings(fn)
    f.no_leaks(run, {})  # $PARTNER_API_KEY
    url = f"http://{partner}/v1/orders"
    key = ENV_SECRETS["PARTNER_API_KEY"]
    f.raised(run, "HTTPError", lambda text: text == f"404 Client Error: Not Found for url: {url}?page=2&api_key={key}")
    f.errors(run, "type", equals="HTTPError")
    f.errors(run, "module", equals="requests.exceptions")
    f.errors(run, "message", equals=f"404 Client Error: Not Found for url: {url}?page=[REDACTED]&api_key=[REDACTED]")
    f.check("the request's host", lambda: remote(run)["name"], "127.0.0.1")
    f.check("the request's URL", lambda: remote(run)["http"]["request"]["url"], url)
    f.check("the request's method", lambda: remote(run)["http"]["request"]["method"].upper(), "GET")
    f.check("the response status", lambda: remote(run)["http"]["response"]["status"], 404)
    f.check("the recorded exception's type", lambda: recorded_exception(run)["type"], "HTTPError")
    f.check("the recorded exception's message", lambda: recorded_exception(run)["message"], holds=masked_api_key)
    f.verdict()


def masked_api_key(text: Any) -> bool:
    return isinstance(text, str) and "404 Client Error" in text and text.endswith("?page=[REDACTED]&api_key=[REDACTED]")


def test_requests_call_with_credentials_in_url(fn: Sandbox, partner: str) -> None:
    """GET http://alice:<password>@host/health: the requests patch records the URL."""
    run = fn.run({"action": "webhook-health"})
    f = Findings(fn)
    f.no_leaks(run, {})  # $WEBHOOK_PASSWORD
    f.unchanged(run, {"status": 200})
    f.check("the request's host", lambda: remote(run)["name"], "127.0.0.1")
    f.check(
        "the request's URL", lambda: remote(run)["http"]["request"]["url"], f"http://alice:[REDACTED]@{partner}/health"
    )
    f.check("the response status", lambda: remote(run)["http"]["response"]["status"], 200)
    f.verdict()


def test_failing_command_with_password_argument(fn: Sandbox) -> None:
    """subprocess.run([... "--password", <password>], check=True) exits 2: CalledProcessError.cmd, .stderr."""
    run = fn.run({"action": "dump-database"})
    f = Findings(fn)
    f.no_leaks(run, {})  # $DB_PASSWORD
    password = ENV_SECRETS["DB_PASSWORD"]
    f.raised(
        run, "CalledProcessError", lambda text: f"'--password', '{password}']' returned non-zero exit status 2" in text
    )
    f.errors(run, "type", equals="CalledProcessError")
    f.errors(run, "module", equals="subprocess")
    f.errors(run, "message", equals="Command [REDACTED] returned non-zero exit status 2.")
    f.check("the recorded exception's type", lambda: recorded_exception(run)["type"], "CalledProcessError")
    f.verdict()


# -- in-code calls and the escape hatch ---------------------------------------------------------------


def test_annotations_and_escape_hatch_metadata(fn: Sandbox) -> None:
    """An invalid annotation (a dict) is dropped without quoting it; metadata put through the SDK's recorder
    (``tracer.provider`` in code, ``xray_recorder`` in a zero-code function) is redacted too."""
    event = {
        "action": "escape-hatch",
        "customer_id": "cus_4QFJ",
        "customer": {"password": "SECRET-annot-pw-4d1e"},  # short: a warning quoting 40 characters would show it all
        "raw": {"password": "SECRET-hatch-password-71c5", "user": "alice"},
        "vault": {"client_secret": "SECRET-vault-client-secret-e2d8", "region": "eu-west-1"},
    }
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"ok": True})
    handler = f"## {fn.handler_name}"
    f.check("the valid annotation", lambda: subsegment(run, handler)["annotations"]["customer_id"], "cus_4QFJ")
    f.check("the invalid annotation, dropped", lambda: "customer" in subsegment(run, handler)["annotations"], False)
    f.meta(run, "raw", equals={"password": MARKER, "user": "alice"})
    f.check("the escape hatch's own subsegment", lambda: subsegment(run, "## vault")["name"], "## vault")
    f.meta(run, "vault", equals={"client_secret": MARKER, "region": "eu-west-1"})
    if fn.mode == "in-code":
        warned = lambda: [line for line in run.output.splitlines() if "annotation" in line and "customer" in line]  # noqa: E731
        f.check("a warning naming the dropped annotation", warned, holds=bool)
    f.verdict()
