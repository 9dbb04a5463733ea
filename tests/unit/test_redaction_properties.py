"""Property-based redaction tests (issue 17): generated payloads in every shape a secret travels in.

Hypothesis builds nested payloads from fragments: dicts, lists and objects, JSON inside strings, Python
reprs, XML (attributes, namespaces such as ``wsse:Password``, CDATA), YAML (``- password: x`` list items),
INI/TOML/AWS credentials files (``key = value``), connection strings, URL query strings, base64 bodies,
pydantic and botocore validation errors, urllib3 errors quoting a URL, and well-known token formats in free
text. Every secret is a unique random marker under a secret-named key (or in a token's own format), every
plain value a unique marker of letters elsewhere. Through the public entry points (``capture.to_metadata``,
``capture_convert.error_metadata``, ``capture.annotation_value``, ``Policy.mask_text``) and the Tracer API end to end
(the daemon stand-in of ``lambda_env``), no 8-character window of a secret may reach a document or a log line
(base64 runs decoded too), and every plain value must still be recorded.

The examples are derived from one drawn seed, so shrinking keeps the markers unique.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import logging
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_env import invoke
from lambda_tracer import Tracer, capture, capture_convert, redaction
from lambda_tracer_local.daemon import by_name, subsegments

POLICY = redaction.Policy()
BIG = 1_000_000  # no cut in the checks that want every plain value back
WINDOW = 8
REDACTED = "[REDACTED]"
#: Derandomized: the same examples on every run, so that a failure in ``make test`` is never a fluke of one run
#: (set ``derandomize=False`` locally to explore further).
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SECRET_KEYS = [
    "password", "DB_PASSWORD", "newPassword", "api_key", "apiKey", "x-api-key", "client_secret", "clientSecret",
    "access_token", "refresh_token", "Authorization", "aws_secret_access_key", "SessionToken", "private_key",
    "connection_string", "secret", "passwd", "credentials",
]  # fmt: skip
PLAIN_KEYS = ["user", "region", "note", "city", "order_id", "description", "stage", "title", "comment"]
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# What was sent, read in memory (tests/memory_sender.py).
pytestmark = [pytest.mark.properties, pytest.mark.usefixtures("memory_sender")]


@dataclass
class Marks:
    """Unique markers for one example: secrets (random, from a token alphabet) and plain values (letters)."""

    seed: int
    count: int = 0
    secrets: list[str] = field(default_factory=list)
    plains: list[str] = field(default_factory=list)

    def _bytes(self, size: int) -> bytes:
        self.count += 1
        out = b""
        while len(out) < size:
            out += hashlib.sha256(f"{self.seed}:{self.count}:{len(out)}".encode()).digest()
        return out[:size]

    def secret(self, size: int = 20, alphabet: str = ALNUM) -> str:
        value = "".join(alphabet[b % len(alphabet)] for b in self._bytes(size))
        self.secrets.append(value)
        return value

    def plain(self, required: bool = True) -> str:
        value = "plain" + "".join(chr(97 + b % 26) for b in self._bytes(10))
        if required:
            self.plains.append(value)
        return value


def leaked(text: str, secrets: list[str]) -> list[str]:
    """Secrets of which some 8-character window is in ``text`` or in a base64 run of it, decoded."""
    views = [text]
    for run in re.findall(r"[A-Za-z0-9+/_-]{16,}={0,2}", text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                views.append(decode(run + "=" * (-len(run) % 4)).decode("utf-8", "ignore"))
            except ValueError:
                pass
    found = []
    for secret in secrets:
        windows = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
        if any(window in view for view in views for window in windows):
            found.append(secret)
    return found


def missing(text: str, plains: list[str]) -> list[str]:
    return [plain for plain in plains if plain not in text]


def as_json(value: Any) -> str:
    """``json.dumps`` of a fragment as a function would serialise it: objects as their attributes, bytes as text."""

    def plain(item: Any) -> Any:
        if isinstance(item, SimpleNamespace):
            return plain(vars(item))
        if isinstance(item, dict):
            return {(k.decode() if isinstance(k, bytes) else k): plain(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [plain(v) for v in item]
        return item

    return json.dumps(plain(value))


# -- fragments: structures ------------------------------------------------------------------------------

Fragment = Callable[[Marks, st.DataObject], Any]


def pick(data: st.DataObject, items: list[str]) -> str:
    return data.draw(st.sampled_from(items))


def secret_scalar(m: Marks, data: st.DataObject) -> Any:
    return {pick(data, SECRET_KEYS): m.secret(), pick(data, PLAIN_KEYS): m.plain()}


def secret_list(m: Marks, data: st.DataObject) -> Any:
    key = pick(data, ["api_keys", "passwords", "secrets", "credentials", "access_tokens"])
    return {key: [m.secret() for _ in range(data.draw(st.integers(2, 4)))], "owner": m.plain()}


def secret_tuple(m: Marks, data: st.DataObject) -> Any:
    return {pick(data, SECRET_KEYS): (m.secret(), m.secret()), "user": m.plain()}


def secret_nested(m: Marks, data: st.DataObject) -> Any:
    return {pick(data, SECRET_KEYS): {"primary": m.secret(), "backup": [m.secret(), {"k": m.secret()}]}}


def name_value_env(m: Marks, data: st.DataObject) -> Any:
    return [
        {"name": pick(data, ["DB_PASSWORD", "API_KEY", "STRIPE_SECRET", "AUTH_TOKEN"]), "value": m.secret()},
        {"name": pick(data, ["STAGE", "REGION", "LOG_LEVEL"]), "value": m.plain()},
    ]


def object_attributes(m: Marks, data: st.DataObject) -> Any:
    return SimpleNamespace(password=m.secret(), api_key=m.secret(), username=m.plain())


def bytes_key(m: Marks, data: st.DataObject) -> Any:
    return {b"password": m.secret(), b"city": m.plain()}


def pair_in_list(m: Marks, data: st.DataObject) -> Any:
    return [("api_key", m.secret()), ("region", m.plain())]


def json_string(m: Marks, data: st.DataObject) -> Any:
    inner = data.draw(st.sampled_from(STRUCTURES))(m, data)
    return {"body": as_json(inner)}


def env_list_in_json_body(m: Marks, data: st.DataObject) -> Any:
    """API Gateway bodies holding a container definition's environment, as a JSON string."""
    return {"body": json.dumps({"environment": name_value_env(m, data)})}


def base64_body(m: Marks, data: st.DataObject) -> Any:
    """An ``isBase64Encoded`` body: recorded decoded and redacted, or as its shape; plain values not required."""
    body = json.dumps({pick(data, SECRET_KEYS): m.secret(), "user": m.plain(required=False)})
    return {"isBase64Encoded": True, "body": base64.b64encode(body.encode()).decode()}


def text_under_plain_key(m: Marks, data: st.DataObject) -> Any:
    return {pick(data, PLAIN_KEYS): data.draw(st.sampled_from(TEXTS))(m, data)}


# -- fragments: text ------------------------------------------------------------------------------------


def repr_dict(m: Marks, data: st.DataObject) -> str:
    return repr({pick(data, SECRET_KEYS): m.secret(), pick(data, PLAIN_KEYS): m.plain()})


def repr_list(m: Marks, data: st.DataObject) -> str:
    return repr({"api_keys": [m.secret(), m.secret(), m.secret()], "user": m.plain()})


def json_text(m: Marks, data: st.DataObject) -> str:
    return "payload: " + json.dumps({pick(data, SECRET_KEYS): m.secret(), "user": m.plain()})


def xml_wsse(m: Marks, data: st.DataObject) -> str:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        "<soapenv:Header><wsse:Security><wsse:UsernameToken><wsse:Username>app</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0'
        f'#PasswordText">{m.secret()}</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>'
        f"<soapenv:Body><GetOrder><city>{m.plain()}</city></GetOrder></soapenv:Body></soapenv:Envelope>"
    )


def xml_cdata(m: Marks, data: st.DataObject) -> str:
    return f"<config><password><![CDATA[{m.secret()}]]></password><host>{m.plain()}</host></config>"


def xml_attributes(m: Marks, data: st.DataObject) -> str:
    return f'<account><name>{m.plain()}</name><api_key id="primary" kind="live">{m.secret()}</api_key></account>'


def yaml_text(m: Marks, data: st.DataObject) -> str:
    return (
        f"database:\n  host: {m.plain()}\n  password: {m.secret()}\n"
        f"users:\n  - password: {m.secret()}\n    name: {m.plain()}\n  - token: '{m.secret()}'\n"
    )


def aws_credentials_file(m: Marks, data: st.DataObject) -> str:
    return (
        f"[default]\naws_access_key_id = AKIA{m.secret(16, B32)}\n"
        f"aws_secret_access_key = {m.secret(40, B64URL.replace('-', '+').replace('_', '/'))}\n"
        f"region = {m.plain()}\n"
    )


def ini_toml(m: Marks, data: st.DataObject) -> str:
    return f'[db]\nuser = "{m.plain()}"\npassword = "{m.secret()}"\napi_key={m.secret()}\n'


def connection_string(m: Marks, data: st.DataObject) -> str:
    return f"Server={m.plain()}.example.com;Database=orders;User Id=app;Password = {m.secret()};Encrypt=true"


def url_query(m: Marks, data: st.DataObject) -> str:
    """A URL in text: secret-named parameters, a Google key (a token format) and an Azure SAS ``sig``."""
    return (
        f"GET https://api.example.com/v1/{m.plain()}/items?api_key={m.secret()}&key=AIza{m.secret(35, B64URL)}"
        f"&sig={m.secret()}&X-Amz-Signature={m.secret()} returned 403"
    )


def pydantic_error(m: Marks, data: st.DataObject) -> str:
    value = data.draw(
        st.sampled_from(
            [
                f"['{m.secret()}', '{m.secret()}']",
                f"{{'password': '{m.secret()}'}}",
                f"b'{m.secret()}'",
                f"('{m.secret()}',)",
                f"'{m.secret()}'",
            ]
        )
    )
    return (
        "1 validation error for Login\npassword\n  Input should be a valid string "
        f"[type=string_type, input_value={value}, input_type=list]\n"
        "    For further information visit https://errors.pydantic.dev/2.9/v/string_type"
    )


def botocore_error(m: Marks, data: st.DataObject) -> str:
    secret = m.secret()
    value = data.draw(st.sampled_from([f"b'{secret}'", f"{{'k': '{secret}'}}", f"['{secret}']"]))
    return (
        "Parameter validation failed:\nInvalid type for parameter SecretString, "
        f"value: {value}, type: <class 'bytes'>, valid types: <class 'str'>"
    )


def urllib3_error(m: Marks, data: st.DataObject) -> str:
    return (
        "HTTPSConnectionPool(host='maps.googleapis.com', port=443): Max retries exceeded with url: "
        f"/maps/api/{m.plain()}/json?address=Main+St&key=AIza{m.secret(35, B64URL)}&sig={m.secret()} "
        "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f3a>: "
        "Failed to establish a new connection: [Errno 111] Connection refused'))"
    )


def token_in_text(m: Marks, data: st.DataObject) -> str:
    """Well-known token formats (detect-secrets' and gitleaks' detectors) in free text."""
    upper = ALNUM.upper() + "abcdefghijklmnopqrstuvwxyz"
    token = data.draw(
        st.sampled_from(
            [
                lambda: "ghp_" + m.secret(36, upper),
                lambda: "github_pat_11" + m.secret(20, upper) + "_" + m.secret(59, upper),
                lambda: "glpat-" + m.secret(20, upper),
                lambda: f"xoxb-{m.secret(11, '0123456789')}-{m.secret(12, '0123456789')}-{m.secret(24, upper)}",
                lambda: "sk_live_" + m.secret(24, upper),
                lambda: "AIza" + m.secret(35, B64URL),
                lambda: "AKIA" + m.secret(16, B32),
                lambda: f"eyJhbGciOiJIUzI1NiJ9.eyJ{m.secret(40, B64URL)}.{m.secret(43, B64URL)}",
                lambda: (
                    "-----BEGIN RSA PRIVATE KEY-----\nMIIE"
                    + m.secret(60, B64URL.replace("-", "+").replace("_", "/"))
                    + "\n-----END RSA PRIVATE KEY-----"
                ),
            ]
        )
    )()
    return f"deploy by {m.plain()} failed with {token} (retrying)"


STRUCTURES: list[Fragment] = [
    secret_scalar, secret_list, secret_tuple, secret_nested, name_value_env, object_attributes, bytes_key,
    pair_in_list, env_list_in_json_body, base64_body,
]  # fmt: skip
TEXTS: list[Fragment] = [
    repr_dict, repr_list, json_text, xml_wsse, xml_cdata, xml_attributes, yaml_text, aws_credentials_file,
    ini_toml, connection_string, url_query, pydantic_error, botocore_error, urllib3_error, token_in_text,
]  # fmt: skip
ALL: list[Fragment] = [*STRUCTURES, json_string, text_under_plain_key]


@dataclass
class Example:
    value: Any
    marks: Marks


@st.composite
def payloads(draw: st.DrawFn) -> Example:
    """A dict of 1 to 5 fragments, some wrapped in a list, a JSON string or another dict."""
    data = draw(st.data())
    marks = Marks(draw(st.integers(0, 2**32)))
    payload: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 5))):
        fragment = draw(st.sampled_from(ALL))(marks, data)
        wrap = draw(st.sampled_from(["as is", "list", "json", "nested"]))
        if wrap == "list":
            fragment = [fragment, marks.plain()]
        elif wrap == "json":
            fragment = as_json(fragment)
        elif wrap == "nested":
            fragment = {"detail": fragment, "level": index}
        payload[f"{draw(st.sampled_from(PLAIN_KEYS))}_{index}"] = fragment
    return Example(payload, marks)


@st.composite
def texts(draw: st.DrawFn, most: int = 2) -> Example:
    """Free text of 1 to ``most`` text fragments, one per line."""
    data = draw(st.data())
    marks = Marks(draw(st.integers(0, 2**32)))
    parts = [draw(st.sampled_from(TEXTS))(marks, data) for _ in range(draw(st.integers(1, most)))]
    return Example("\n".join(parts), marks)


def _check(text: str, marks: Marks, plains: bool = True) -> None:
    assert leaked(text, marks.secrets) == [], text
    if plains:
        assert missing(text, marks.plains) == [], text


# -- the public entry points ----------------------------------------------------------------------------

#: One shape at a time first, so that a failure names the shape that leaks (the mixed payloads come after).
PER_SHAPE = settings(SETTINGS, max_examples=8)
STRUCTURE_IDS = [fragment.__name__ for fragment in ALL]
TEXT_IDS = [fragment.__name__ for fragment in TEXTS]


@PER_SHAPE
@given(data=st.data())
@pytest.mark.parametrize("fragment", ALL, ids=STRUCTURE_IDS)
def test_each_shape_through_to_metadata(fragment: Fragment, data: st.DataObject) -> None:
    marks = Marks(data.draw(st.integers(0, 2**32)))
    value = fragment(marks, data)
    _check(json.dumps(capture.to_metadata(value, POLICY, BIG)), marks)


@PER_SHAPE
@given(data=st.data())
@pytest.mark.parametrize("fragment", TEXTS, ids=TEXT_IDS)
def test_each_text_shape_through_mask_text(fragment: Fragment, data: st.DataObject) -> None:
    marks = Marks(data.draw(st.integers(0, 2**32)))
    _check(redaction.current().mask_text(fragment(marks, data)), marks)


@PER_SHAPE
@given(data=st.data())
@pytest.mark.parametrize("fragment", TEXTS, ids=TEXT_IDS)
def test_each_text_shape_in_an_exception_message(fragment: Fragment, data: st.DataObject) -> None:
    marks = Marks(data.draw(st.integers(0, 2**32)))
    message = fragment(marks, data)
    _check(
        json.dumps(capture_convert.error_metadata(ValueError(message), POLICY, BIG)), marks, plains=len(message) <= 900
    )


@SETTINGS
@given(payloads())
def test_to_metadata_masks_every_secret_and_keeps_every_plain_value(example: Example) -> None:
    _check(json.dumps(capture.to_metadata(example.value, POLICY, BIG)), example.marks)


@SETTINGS
@given(texts())
def test_mask_text_masks_every_secret_and_keeps_every_plain_value(example: Example) -> None:
    _check(redaction.current().mask_text(example.value), example.marks)


@SETTINGS
@given(texts())
def test_error_metadata_masks_every_secret_and_keeps_every_plain_value(example: Example) -> None:
    recorded = json.dumps(capture_convert.error_metadata(RuntimeError(example.value), POLICY, BIG))
    _check(recorded, example.marks, plains=len(example.value) <= 900)


@SETTINGS
@given(texts(most=1))
def test_annotation_values_are_masked_and_keep_plain_values(example: Example) -> None:
    value = capture.annotation_value("note", example.value, POLICY)
    assert isinstance(value, str)
    _check(value, example.marks, plains=len(example.value) <= 900)
    assert capture.annotation_value("api_key", example.value, POLICY) == REDACTED


@settings(SETTINGS, max_examples=15)
@given(payload=payloads(), message=texts())
def test_the_tracer_end_to_end_sends_and_logs_no_secret(
    payload: Example, message: Example, caplog: pytest.LogCaptureFixture
) -> None:
    """Response, put_metadata, annotations and the error, through the daemon stand-in; every log line too."""
    tracer = Tracer(service="svc")
    caplog.clear()

    @tracer.capture_method
    def fetch(event: dict[str, Any]) -> Any:
        tracer.put_metadata("payload", payload.value)
        tracer.put_annotation("note", message.value[:1000])
        return payload.value

    @tracer.capture_method
    def fail() -> None:
        raise RuntimeError(message.value)

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> Any:
        fetch(event)
        fail()

    with caplog.at_level(logging.DEBUG):
        call = invoke(handler, expect=3)
    assert isinstance(call.error, RuntimeError)
    sent = json.dumps(call.documents)
    secrets = payload.marks.secrets + message.marks.secrets
    assert leaked(sent, secrets) == [], sent
    assert leaked(caplog.text, secrets) == [], caplog.text
    fetched = [doc for doc in subsegments(call.documents) if doc["name"].endswith("fetch")]
    assert len(fetched) == 1 and missing(json.dumps(fetched[0]), payload.marks.plains) == []


# -- named cases of the second review ---------------------------------------------------------------------

S = "zq7vnkp2w9xr4tb8mc3h6jd5"
P = "plainvaluekeptintact"


@pytest.mark.parametrize("name", ["secrets", "get_secret", "auth_user", "refresh_token", "session_handler"])
def test_a_function_named_for_a_secret_still_has_its_response_captured(name: str) -> None:
    tracer = Tracer(service="svc")

    def body() -> dict[str, Any]:
        return {"user": P, "password": S, "items": [1, 2]}

    body.__name__ = body.__qualname__ = name
    traced = tracer.capture_method(body)

    class Vault:
        pass

    def method(self: Vault) -> dict[str, Any]:
        return {"user": P, "password": S}

    method.__name__ = name
    method.__qualname__ = f"Vault.{name}"
    Vault.fetch = tracer.capture_method(method)  # type: ignore[attr-defined]

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        traced()
        Vault().fetch()  # type: ignore[attr-defined]
        return "ok"

    call = invoke(handler, expect=3)
    assert S not in json.dumps(call.documents)
    recorded = [
        value
        for doc in subsegments(call.documents)
        if doc.get("name") != "## handler"
        for value in (doc.get("metadata") or {}).get("svc", {}).values()
    ]
    assert {"user": P, "password": REDACTED, "items": [1, 2]} in recorded, recorded
    assert {"user": P, "password": REDACTED} in recorded, recorded


def test_a_handler_named_for_a_secret_still_has_its_response_captured() -> None:
    tracer = Tracer(service="svc")

    def auth_user(event: dict[str, Any], context: object) -> dict[str, Any]:
        return {"user": P, "token": S}

    call = invoke(tracer.capture_lambda_handler(auth_user))
    doc = by_name(call.documents, "## auth_user")
    assert doc["metadata"]["svc"]["auth_user response"] == {"user": P, "token": REDACTED}


S36 = S + "a1b2c3d4e5f6"  # a GitHub token is ghp_ and 36 characters


def _straddling(prefix: str, secret: str, suffix: str, total: int = 1100) -> str:
    """A message over 1,000 characters whose secret starts before the cut and ends after it."""
    head = "x " * ((1000 - len(secret) // 2 - len(prefix)) // 2)
    text = f"{head}{prefix}{secret}{suffix} and more"
    return text + "." * (total - len(text))


@pytest.mark.parametrize(
    ("prefix", "secret", "suffix"),
    [
        ("password=", S, ""),
        ("Authorization: Bearer ", S, ""),
        ("token ghp_", S36, ""),
        ("{'api_key': '", S, "'}"),
        ('"password": "', S, '"'),
        ("<password>", S, "</password>"),
    ],
)
def test_texts_are_masked_before_they_are_cut(prefix: str, secret: str, suffix: str) -> None:
    message = _straddling(prefix, secret, suffix)
    assert message.index(secret) < 1000 < message.index(secret) + len(secret)
    assert leaked(json.dumps(capture_convert.error_metadata(RuntimeError(message), POLICY, BIG)), [secret]) == []
    assert leaked(str(capture.annotation_value("note", message, POLICY)), [secret]) == []

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        tracer.put_annotation("note", message)
        raise ValueError(message)

    call = invoke(handler)
    assert leaked(json.dumps(call.documents), [secret]) == []


def test_every_item_under_a_secret_key_is_masked() -> None:
    keys = ["k1-" + S, "k2-" + S[::-1], "k3-" + S.upper()]
    assert capture.to_metadata({"api_keys": keys, "user": P}, POLICY, BIG) == {"api_keys": REDACTED, "user": P}
    as_repr = repr({"api_keys": keys, "user": P})
    masked = POLICY.mask_text(as_repr)
    assert leaked(masked, [k[3:] for k in keys]) == [] and P in masked
    recorded = json.dumps(capture_convert.error_metadata(ValueError(f"bad config {as_repr}"), POLICY, BIG))
    assert leaked(recorded, [k[3:] for k in keys]) == [] and P in recorded


def test_put_metadata_keys_holding_urls_with_credentials_are_masked() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_metadata(f"https://user:{S}@db.example.com/orders", 1)
        tracer.put_metadata("pools", {f"postgres://app:{S}@db/x": 3})
        return "ok"

    call = invoke(handler)
    assert S not in json.dumps(call.documents)
    keys = list(by_name(call.documents, "## handler")["metadata"]["svc"])
    assert "https://user:[REDACTED]@db.example.com/orders" in keys, keys


@pytest.mark.parametrize(
    "name",
    [f"GET https://h.example.com/x?api_key={S}", f"call (token={S})", f"POST https://h/x?sig={S}&access_token={S}"],
)
def test_escape_hatch_subsegment_names_are_masked_before_the_sdk_strips_them(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK drops ``?`` and ``(`` first (``xapi_key=S``) and logs the raw name: neither may show ``S``."""
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        with tracer.provider.in_subsegment(name):
            pass
        subsegment = tracer.provider.begin_subsegment(name)
        tracer.provider.end_subsegment()
        assert subsegment is not None
        return "ok"

    with caplog.at_level(logging.DEBUG):
        call = invoke(handler, expect=3)
    assert leaked(json.dumps(call.documents), [S]) == []
    assert leaked(caplog.text, [S]) == [], caplog.text
    assert [doc["name"] for doc in subsegments(call.documents) if doc["name"] != "## handler"] != []


# -- bounded cost: nothing keeps user objects alive ---------------------------------------------------------


class _Key:
    """A user object used as a dict key: hashable, with a text of its own."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_no_cache_keeps_put_metadata_keys_alive() -> None:
    tracer = Tracer(service="svc")
    refs: list[weakref.ref[_Key]] = []

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        keys = [_Key(f"customer_{i}") for i in range(3)]
        refs.extend(weakref.ref(key) for key in keys)
        tracer.put_metadata("by customer", {key: i for i, key in enumerate(keys)})
        tracer.put_metadata("secret by customer", {_Key("password"): S})
        return "ok"

    call = invoke(handler)
    assert S not in json.dumps(call.documents)
    assert by_name(call.documents, "## handler")["metadata"]["svc"]["by customer"] == {
        "customer_0": 0,
        "customer_1": 1,
        "customer_2": 2,
    }
    del call
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]
