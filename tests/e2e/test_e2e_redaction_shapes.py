"""Secrets, second round (issue 17): the payload shapes the second review leaked, through the built layer.

The harness is the first round's (``test_e2e_redaction``: one runtime process per mode, zero-code behind the
exec wrapper and in-code with ``Tracer``, every datagram and every line of output searched for every marked
secret in all its spellings). The shapes:

* an API Gateway response whose ``body`` holds a container's environment as a JSON string
  (``[{"name": "DB_PASSWORD", "value": ...}]``), and the event that carries it;
* a SOAP request with WS-Security (``<wsse:Password Type="...#PasswordText">``) and a CDATA password, echoed;
* an AWS credentials file and an INI/TOML config (``key = value`` with spaces, a triple-quoted TOML string), and a
  connection string;
* Secrets Manager values from a moto server: a ``key = value`` SecretString and a SecretBinary;
* a real botocore ``ParamValidationError``: ``put_secret_value`` with ``SecretString=b"..."`` (bytes), raised
  by botocore before any request, quoting the value;
* a real urllib3 ``MaxRetryError`` (through requests' ``ConnectionError``) for a Google Maps URL with
  ``key=AIza...`` and an Azure SAS ``sig=`` against a closed local port;
* a real urllib3 ``MaxRetryError`` for a URL whose query holds a key no name or form gives away (``key=…``,
  ``code=…``): urllib3 quotes the path and query without the host (``with url: /v1/search?…``);
* an ``isBase64Encoded`` response body that decodes to tokens.

And the bounded cost (item 5): a warm invocation returning a ~1 MB body of 14,000 uuid keys, and one echoing a
960 kB body of 5,100 long keys, are still traced, their response recorded as a truncated value with a marker
(the shape is asserted, never a time).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_e2e_redaction import (
    JSON,
    MARKER,
    REGION,
    SERVICE,
    Run,
    Sandbox,
    marked_secrets,
    metadata,
    recorded_exception,
)
from .test_e2e_redaction import Findings as FirstRoundFindings


class Findings(FirstRoundFindings):
    """The first round's findings; the runtime's own error report is left out whole, message lines included."""

    @staticmethod
    def _logged_lines(run: Run) -> list[str]:
        """awslambdaric writes ``[ERROR] <type>: <message>`` then the frames joined with ``\\r``, with or without
        the layer; a message of several lines (botocore's validation errors) continues on the next lines, up to
        the one holding the frames."""
        lines = run.output.split("\n")
        if run.inv.status != "error" or not run.inv.error_type:
            return lines
        kept, inside = [], False
        for line in lines:
            if line.startswith(f"[ERROR] {run.inv.error_type}:"):
                inside = True
            if not inside:
                kept.append(line)
            elif "\r" in line or "Traceback (most recent call last)" in line:
                inside = False
        return kept


SOAP_PASSWORD = "SECRET-wsse-password-4d1a"
CDATA_PASSWORD = "SECRET-cdata-password-77e0"
ENV_DB_PASSWORD = "SECRET-env-list-db-password-2b8c"
ENV_API_KEY = "SECRET-env-list-api-key-91fd"
CREDENTIALS_SECRET = "SECRET-credentials-file-secret-key-c0de"
CREDENTIALS_TOKEN = "SECRET-credentials-file-session-token-5e5e"
INI_PASSWORD = "SECRET-ini-password-6a6a"
CONNECTION_PASSWORD = "SECRET-connection-string-password-3f3f"
TOML_PRIVATE_KEY = "SECRET-toml-multiline-private-key-8b8b"
SM_TEXT_PASSWORD = "SECRET-secretsmanager-text-password-1c1c"
SM_BINARY = "SECRET-secretsmanager-binary-9a9a"
BOTOCORE_SECRET = "SECRET-botocore-param-validation-8e8e"
GOOGLE_KEY = ("AIza" + "SECRET-google-maps-key-0123456789abcdef")[:39]  # AIza and 35 characters
SAS_SIGNATURE = "SECRET-azure-sas-sig-4b4b"
SEARCH_KEY = "SECRET-search-key-plain-6d6d"
SEARCH_CODE = "SECRET-search-code-plain-2e2e"
BASE64_TOKEN = "SECRET-base64-access-token-7c7c"
TEXT_SECRET_NAME = "prod/checkout/legacy"
BINARY_SECRET_NAME = "prod/checkout/binary"

SOAP_REQUEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
  <soapenv:Header>
    <wsse:Security soapenv:mustUnderstand="1">
      <wsse:UsernameToken>
        <wsse:Username>checkout-service</wsse:Username>
        <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{SOAP_PASSWORD}</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body>
    <GetOrder><orderId>ord-1234</orderId><password><![CDATA[{CDATA_PASSWORD}]]></password></GetOrder>
  </soapenv:Body>
</soapenv:Envelope>"""

CREDENTIALS_FILE = f"""[default]
aws_access_key_id = AKIDSHAPESE2E0000000
aws_secret_access_key = {CREDENTIALS_SECRET}
aws_session_token = {CREDENTIALS_TOKEN}
region = eu-west-1
"""

CONFIG_FILE = f"""[database]
host = db.internal
password = "{INI_PASSWORD}"
connection = "Server=db.internal;Database=orders;User Id=app;Password = {CONNECTION_PASSWORD};Encrypt=true"
pool_size = 5

[signing]
private_key = \"\"\"
{TOML_PRIVATE_KEY}
\"\"\"
algorithm = "ed25519"
"""

SM_TEXT = f"username = app\npassword = {SM_TEXT_PASSWORD}\nhost = legacy.internal\n"

SHAPES_PY = '''
"""What functions do with these payloads; shared by the zero-code and the in-code function."""

import base64
import json
import os
import uuid

import boto3
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
secrets = boto3.client("secretsmanager")


def read(name):
    with open(os.path.join(HERE, name)) as handle:
        return handle.read()


def env_list(event):
    """An API route returning a task definition's environment, as API Gateway wants it: a JSON string body."""
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event["body"]}


def soap(event):
    return {"statusCode": 500, "headers": {"Content-Type": "text/xml"}, "body": event["body"], "fault": "echoed"}


def config_files(event):
    return {"profile_file": read("credentials"), "settings_file": read("config.ini"), "stage": "prod"}


def secret_text(event):
    return secrets.get_secret_value(SecretId=os.environ["TEXT_SECRET_ID"])


def secret_binary(event):
    return secrets.get_secret_value(SecretId=os.environ["BINARY_SECRET_ID"])


def rotate(event):
    # A classic bug: bytes where botocore wants a str. botocore refuses it before sending, quoting the value.
    value = event["new_value"].encode()
    return secrets.put_secret_value(SecretId=os.environ["TEXT_SECRET_ID"], SecretString=value)


def geocode(event):
    url = f"http://127.0.0.1:{os.environ['CLOSED_PORT']}/maps/api/geocode/json"
    params = {"address": "1 Main St", "key": os.environ["GOOGLE_KEY"], "sig": os.environ["SAS_SIGNATURE"]}
    requests.get(url, params=params, timeout=5)


def search(event):
    url = f"http://127.0.0.1:{os.environ['CLOSED_PORT']}/v1/search"
    params = {"q": "shoes", "key": os.environ["SEARCH_KEY"], "code": os.environ["SEARCH_CODE"]}
    requests.get(url, params=params, timeout=5)


def base64_body(event):
    body = json.dumps({"access_token": os.environ["BASE64_TOKEN"], "token_type": "Bearer", "user": "alice"})
    return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(body.encode()).decode()}


def uuid_body(event):
    body = {str(uuid.UUID(int=i)): f"shipped-{i:08d}-on-time" for i in range(14000)}
    return {"statusCode": 200, "body": json.dumps(body)}


def echo(event):
    return {"statusCode": 200, "body": event["body"]}


def handle(event):
    return globals()[event["action"].replace("-", "_")](event)
'''

ZERO_CODE_APP = """
import boto3  # noqa: F401  (botocore is patched when imported, as in a real function)

import shapes


def handler(event, context):
    result = shapes.handle(event)
    if isinstance(result, dict) and "ResponseMetadata" in result:
        return json_ready(result)
    return result


def json_ready(result):
    import json

    return json.loads(json.dumps(result, default=str))
"""

IN_CODE_APP = """
import json

from lambda_tracer import Tracer

import shapes

tracer = Tracer()

for _name in ("rotate", "geocode", "search", "secret_text", "secret_binary"):
    setattr(shapes, _name, tracer.capture_method(getattr(shapes, _name)))


@tracer.capture_lambda_handler
def lambda_handler(event, context):
    if event["action"] in ("env-list", "soap"):
        tracer.put_metadata("event", event)
    result = shapes.handle(event)
    if isinstance(result, dict) and "ResponseMetadata" in result:
        tracer.put_metadata("secret response", result)
        return json.loads(json.dumps(result, default=str))
    return result
"""


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server with two secrets: a ``key = value`` SecretString and a SecretBinary."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "AKIDTESTING000000000", "aws_secret_access_key": "testing"}
    client = boto3.client("secretsmanager", endpoint_url=url, region_name=REGION, **keys)
    client.create_secret(Name=TEXT_SECRET_NAME, SecretString=SM_TEXT)
    client.create_secret(Name=BINARY_SECRET_NAME, SecretBinary=json.dumps({"api_key": SM_BINARY}).encode())
    yield url
    server.stop()


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A port of 127.0.0.1 nobody listens on: urllib3 retries, then raises MaxRetryError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", params=["zero-code", "in-code"])
def fn(
    request: pytest.FixtureRequest,
    layer_dir: Path,
    moto_url: str,
    closed_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Sandbox]:
    mode = request.param
    fn_dir = tmp_path_factory.mktemp(f"shapes-{mode}")
    app = ZERO_CODE_APP if mode == "zero-code" else IN_CODE_APP
    files = {"app.py": app, "shapes.py": SHAPES_PY, "credentials": CREDENTIALS_FILE, "config.ini": CONFIG_FILE}
    for name, source in files.items():
        (fn_dir / name).write_text(textwrap.dedent(source).lstrip("\n"))
    env = {
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIDSHAPESE2E0000000",
        "AWS_SECRET_ACCESS_KEY": "SECRET-env-secret-access-key-shapes",
        "AWS_EC2_METADATA_DISABLED": "true",
        "TEXT_SECRET_ID": TEXT_SECRET_NAME,
        "BINARY_SECRET_ID": BINARY_SECRET_NAME,
        "CLOSED_PORT": str(closed_port),
        "GOOGLE_KEY": GOOGLE_KEY,
        "SAS_SIGNATURE": SAS_SIGNATURE,
        "SEARCH_KEY": SEARCH_KEY,
        "SEARCH_CODE": SEARCH_CODE,
        "BASE64_TOKEN": BASE64_TOKEN,
    }
    sandbox = Sandbox(mode, fn_dir, layer_dir, env)
    try:
        yield sandbox
    finally:
        sandbox.close()
        shutil.rmtree(fn_dir, ignore_errors=True)


def _env_event() -> dict[str, Any]:
    environment = [
        {"name": "DB_PASSWORD", "value": ENV_DB_PASSWORD},
        {"name": "PARTNER_API_KEY", "value": ENV_API_KEY},
        {"name": "STAGE", "value": "prod"},
    ]
    return {"action": "env-list", "httpMethod": "GET", "body": json.dumps({"family": "checkout", "env": environment})}


def test_env_list_in_a_json_body(fn: Sandbox) -> None:
    event = _env_event()
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event["body"]})
    f.response(run, "body", holds=lambda body: isinstance(body, str))
    f.response(run, "body", JSON, "family", equals="checkout")
    f.response(run, "body", JSON, "env", 0, "name", equals="DB_PASSWORD")
    f.response(run, "body", JSON, "env", 0, "value", equals=MARKER)
    f.response(run, "body", JSON, "env", 1, "value", equals=MARKER)
    f.response(run, "body", JSON, "env", 2, "value", equals="prod")
    if fn.mode == "in-code":
        f.meta(run, "event", "body", JSON, "env", 2, "value", equals="prod")
    f.verdict()


def test_soap_request_with_ws_security(fn: Sandbox) -> None:
    event = {"action": "soap", "httpMethod": "POST", "body": SOAP_REQUEST}
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(
        run, {"statusCode": 500, "headers": {"Content-Type": "text/xml"}, "body": SOAP_REQUEST, "fault": "echoed"}
    )
    f.response(run, "body", holds=lambda body: "<orderId>ord-1234</orderId>" in body and "wsse:Password" in body)
    f.response(run, "fault", equals="echoed")
    f.verdict()


def test_credentials_and_config_files(fn: Sandbox) -> None:
    run = fn.run({"action": "config-files"})
    f = Findings(fn)
    secrets = marked_secrets(CREDENTIALS_FILE, CONFIG_FILE)
    f.no_leaks(run, secrets)
    f.unchanged(run, {"profile_file": CREDENTIALS_FILE, "settings_file": CONFIG_FILE, "stage": "prod"})
    f.response(run, "stage", equals="prod")
    f.response(run, "profile_file", holds=lambda text: "region = eu-west-1" in text and "[default]" in text)
    f.response(run, "settings_file", holds=lambda text: "host = db.internal" in text and "pool_size = 5" in text)
    f.response(run, "settings_file", holds=lambda text: f'private_key = """{MARKER}"""\nalgorithm' in text)
    f.verdict()


def test_secrets_manager_text_and_binary_values(fn: Sandbox) -> None:
    for action, secret in (("secret-text", SM_TEXT_PASSWORD), ("secret-binary", SM_BINARY)):
        run = fn.run({"action": action})
        f = Findings(fn)
        f.no_leaks(run, {secret: secret})
        f.check("a response for the caller", lambda: run.inv.status, "response")  # noqa: B023
        f.response(run, "Name", holds=lambda name: name in (TEXT_SECRET_NAME, BINARY_SECRET_NAME))
        f.verdict()


def test_botocore_param_validation_error(fn: Sandbox) -> None:
    run = fn.run({"action": "rotate", "new_value": BOTOCORE_SECRET})
    f = Findings(fn)
    f.no_leaks(run, {BOTOCORE_SECRET: BOTOCORE_SECRET})
    f.raised(run, "ParamValidationError", lambda message: "SecretString" in message)
    f.errors(run, "type", equals="ParamValidationError")
    f.errors(run, "message", holds=lambda text: "Invalid type for parameter SecretString" in text and MARKER in text)
    f.check("the recorded exception", lambda: recorded_exception(run)["message"], holds=lambda m: "SecretString" in m)
    f.verdict()


def test_urllib3_max_retry_error_with_a_google_key(fn: Sandbox) -> None:
    run = fn.run({"action": "geocode"})
    f = Findings(fn)
    f.no_leaks(run, {"Google key": GOOGLE_KEY, SAS_SIGNATURE: SAS_SIGNATURE})
    f.raised(run, "ConnectionError", lambda message: "Max retries exceeded" in message)
    f.errors(run, "type", equals="ConnectionError")
    f.errors(run, "message", holds=lambda text: "/maps/api/geocode/json?" in text and "key=" in text and MARKER in text)
    f.verdict()


def test_urllib3_max_retry_error_quoting_a_path_and_query(fn: Sandbox) -> None:
    run = fn.run({"action": "search"})
    f = Findings(fn)
    f.no_leaks(run, {SEARCH_KEY: SEARCH_KEY, SEARCH_CODE: SEARCH_CODE})
    f.raised(run, "ConnectionError", lambda message: "Max retries exceeded" in message)
    f.errors(run, "type", equals="ConnectionError")
    f.errors(run, "message", holds=lambda text: f"/v1/search?q={MARKER}&key={MARKER}&code={MARKER}" in text)
    f.verdict()


def test_base64_encoded_body(fn: Sandbox) -> None:
    run = fn.run({"action": "base64-body"})
    f = Findings(fn)
    f.no_leaks(run, {BASE64_TOKEN: BASE64_TOKEN})
    f.response(run, "statusCode", equals=200)
    f.response(run, "isBase64Encoded", equals=True)

    def decoded_body_leaks(body: Any) -> bool:
        try:
            return BASE64_TOKEN.encode() in base64.b64decode(str(body) + "===", validate=False)
        except ValueError:
            return False

    f.response(run, "body", holds=lambda body: not decoded_body_leaks(body))
    f.check(
        "the caller's body",
        lambda: base64.b64decode(run.inv.payload["body"]),
        holds=lambda b: BASE64_TOKEN.encode() in b,
    )
    f.verdict()


ENCODED_TOKEN = "SECRET-encoded-redirect-token-0e0e"
ENCODED_PASSWORD = "SECRET-encoded-userinfo-password-5d5d"
#: A login page's links: the URL to come back to, percent-encoded as a query value (OAuth's ``redirect_uri``,
#: ``next``, SAML's ``RelayState``), holding a token and credentials.
ENCODED_BODY = (
    '<a href="https://app.example.com/login?next=%2Fcallback%3Faccess_token%3D'
    f'{ENCODED_TOKEN}%26state%3Dxyz&lang=en">back</a> '
    f'<a href="https://app.example.com/sync?target=https%3A%2F%2Fsvc%3A{ENCODED_PASSWORD}%40db.internal%2Forders">'
    "sync</a>"
)


def test_a_url_percent_encoded_in_a_query_value(fn: Sandbox) -> None:
    event = {"action": "echo", "body": ENCODED_BODY}
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"statusCode": 200, "body": ENCODED_BODY})
    f.response(
        run,
        "body",
        equals=ENCODED_BODY.replace(ENCODED_TOKEN, "[REDACTED]").replace(ENCODED_PASSWORD, "[REDACTED]"),
    )
    f.verdict()


# -- bounded cost: huge bodies on a warm invocation -----------------------------------------------------


def _truncated(value: Any) -> bool:
    """A value recorded cut, with a marker that says so, and small enough for a document."""
    text = json.dumps(value)
    return "truncated" in text and len(text) < 64_000


@pytest.mark.parametrize("action", ["uuid-body", "echo"])
def test_huge_bodies_are_traced_as_a_truncated_value_on_a_warm_invocation(fn: Sandbox, action: str) -> None:
    """~1 MB of 14,000 uuid keys returned, or 960 kB of 5,100 long keys echoed: recorded cut, with a marker."""
    event: dict[str, Any] = {"action": action}
    if action == "echo":
        body = {f"{uuid.UUID(int=i)}-{'k' * 124}": "v" * 20 for i in range(5100)}
        event["body"] = json.dumps(body)
        assert 900_000 < len(event["body"]) < 1_000_000
    fn.run(event)  # the first (maybe cold) invocation; the second is warm, where every cache is filled
    run = fn.run(event)
    f = Findings(fn)
    f.check("a response for the caller", lambda: run.inv.status, "response")
    if action == "uuid-body":
        f.check("the caller's body", lambda: len(run.inv.payload["body"]), holds=lambda n: 900_000 < n < 1_100_000)
    else:
        f.check("the caller's body", lambda: run.inv.payload["body"], event["body"])
    f.check("the handler's subsegment", lambda: metadata(run, fn.response_key), holds=_truncated)
    f.verdict()


# -- third round: secret names the word list missed, HTML-escaped structures, fullwidth names in text -------------

TOTP_CODE = "SECRET-totp-code-31a7"
MFA_CODE = "SECRET-mfa-code-52c0"
BACKUP_CODE = "SECRET-backup-code-8e14"
PRIV_KEY = "SECRET-priv-key-6b2d"
CLIENT_ASSERTION = "SECRET-client-assertion-0f9e"
SAML_RESPONSE = "SECRET-saml-response-4c4c"
#: A login's second factor and an OAuth client's and a SAML login's posts, under names the first word list missed.
SECOND_FACTOR_BODY = json.dumps(
    {
        "user": "ann",
        "totp": TOTP_CODE,
        "mfaCode": MFA_CODE,
        "backup_codes": [BACKUP_CODE],
        "priv_key": PRIV_KEY,
        "statusCode": 200,
        "errorCode": "MFA_REQUIRED",
        "countryCode": "FR",
        "options": {"remember": True},
        "mfa_enabled": True,
        "form": f"client_assertion={CLIENT_ASSERTION}&SAMLResponse={SAML_RESPONSE}&RelayState=%2Fhome",
    }
)


def test_second_factor_and_assertion_names(fn: Sandbox) -> None:
    event = {"action": "echo", "body": SECOND_FACTOR_BODY}
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"statusCode": 200, "body": SECOND_FACTOR_BODY})
    expected = json.loads(SECOND_FACTOR_BODY)
    expected.update(totp=MARKER, mfaCode=MARKER, backup_codes=MARKER, priv_key=MARKER)
    expected["form"] = f"client_assertion={MARKER}&SAMLResponse={MARKER}&RelayState=%2Fhome"
    f.response(run, "body", holds=lambda body: json.loads(body) == expected)
    f.verdict()


ESCAPED_TOKEN = "SECRET-html-escaped-token-7a31"
ESCAPED_PASSWORD = "SECRET-html-escaped-password-2d90"
#: A server-rendered page: the app's state escaped into an attribute (``&quot;``, as Jinja's ``|e`` does with
#: ``&#34;``), and an error block quoting the XML request it failed on.
ESCAPED_BODY = (
    f'<div id="app" data-state="{{&#34;user&#34;: &#34;ann&#34;, &#34;access_token&#34;: &#34;{ESCAPED_TOKEN}&#34;}}">'
    '</div>\n<pre class="error">&lt;Login&gt;&lt;User&gt;ann&lt;/User&gt;'
    f"&lt;Password&gt;{ESCAPED_PASSWORD}&lt;/Password&gt;&lt;/Login&gt;</pre>"
)


def test_json_and_xml_escaped_into_html(fn: Sandbox) -> None:
    event = {"action": "echo", "body": ESCAPED_BODY}
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"statusCode": 200, "body": ESCAPED_BODY})
    expected = ESCAPED_BODY.replace(ESCAPED_TOKEN, MARKER).replace(ESCAPED_PASSWORD, MARKER)
    f.response(run, "body", equals=expected)
    f.verdict()


FULLWIDTH_PASSWORD = "SECRET-fullwidth-password-5e1b"
#: Fullwidth forms (U+FF01 to U+FF5E) of ASCII's printable characters, as a Japanese input method types them.
WIDE = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
#: A support ticket typed with such an input method: the name and ``=`` in fullwidth forms.
FULLWIDTH_BODY = json.dumps(
    {
        "ticket": f"ログインできません。{'password='.translate(WIDE)}{FULLWIDTH_PASSWORD}\u3000です",
        "price": "100".translate(WIDE) + "円",
    }
)


def test_fullwidth_names_in_text(fn: Sandbox) -> None:
    event = {"action": "echo", "body": FULLWIDTH_BODY}
    run = fn.run(event)
    f = Findings(fn)
    f.no_leaks(run, marked_secrets(event))
    f.unchanged(run, {"statusCode": 200, "body": FULLWIDTH_BODY})
    expected = {"ticket": f"ログインできません。password={MARKER} です", "price": "100".translate(WIDE) + "円"}
    f.response(run, "body", holds=lambda body: json.loads(body) == expected)
    f.verdict()
