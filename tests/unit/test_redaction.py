"""The redaction policy holds for real payload shapes, on every path a value can leave the process by.

The second half pins exact outputs, one per rule and edge, written against the mutants `make mutation` left
alive.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_env import invoke
from lambda_tracer import (
    Tracer,
    capture,
    capture_convert,
    capture_json,
    config,
    redaction,
    redaction_encoded,
    redaction_masks,
    redaction_text,
)
from lambda_tracer.redaction import COOKIE, COUNTS, PLAIN, QUERY, SECRET, Policy, from_setting
from lambda_tracer_local.daemon import by_name, new_trace_header

pytestmark = pytest.mark.usefixtures("memory_sender")  # what was sent, read in memory (tests/memory_sender.py)

S = "s3cr3t-value-9f2"
POLICY = redaction.Policy()


def _meta(value: Any, limit: int = 16 * 1024) -> Any:
    return capture.to_metadata(value, POLICY, limit)


def _text(value: Any) -> str:
    return json.dumps(value)


# -- keys ------------------------------------------------------------------------------------------


SECRET_KEYS = [
    "password", "Password", "PASSWORD", "DB_PASSWORD", "dbPassword", "dbpassword", "new_password", " password",
    "passwd", "pwd", "passphrase", "aws_secret_access_key", "SecretAccessKey", "clientSecret", "client_secret",
    "secret", "accessToken", "access_token", "AccessToken", "IdToken", "id_token", "RefreshToken", "SessionToken",
    "X-Amz-Security-Token", "x-auth-token", "token", "api-key", "api_key", "apiKey", "APIKey", "x-api-key", "apikey",
    "Authorization", "Proxy-Authorization", "auth", "jwt", "credentials", "Credentials", "private_key", "PrivateKey",
    "signature", "X-Amz-Signature", "connectionString", "connection_string", "conn_str", "sessionId", "csrf_token",
    "AccessKeyId", "dsn", "signing_key", "SigningKey", "encryption_key", "encryptionKey", "master_key", "MasterKey",
    "hmac_key", "HMACKey", "cvv", "CVV2", "cvc", "cvc2", "card_cvc", "cardCvc", "CVC",
    "card_verification_value", "cardVerificationCode", "otp", "otpCode", "one_time_password", "code_verifier",
    "codeVerifier", "privKey", "priv_key", "PRIV_KEY", "privkey", "private_key_pem", "totp", "TOTP", "totpCode", "hotp",
    "mfa_code", "mfaCode", "MFA-Code", "recovery_code", "recoveryCodes", "backup_codes", "backupCode",
    "client_assertion", "clientAssertion", "SAMLResponse", "saml_response", "verification_code", "verificationCode",
]  # fmt: skip
PLAIN_KEYS = [
    "user", "username", "statusCode", "body", "headers", "Content-Type", "TokenType", "token_type", "ExpiresIn",
    "expires_in", "Expiration", "password_length", "secret_name", "Name", "ARN", "author", "authorId", "id",
    "password_reset_required", "message", "query", "session_duration", "master_key_arn",
    "encryption_key_version", "pinned", "spinner", "pin_count", "pinpoint_app_id", "shipping", "mapping", "opinion",
    "topic", "cvc_check", "otp_enabled", "code", "verifier", "pin", "csc", "errorCode", "countryCode", "status_code",
    "options", "hotpot", "footprint", "laptop", "mfa", "mfa_enabled", "mfaEnabled", "mfa_serial", "backup", "backup_id",
    "backupPlanId", "recovery_point_arn", "recoveryWindowInDays", "client_assertion_type", "SAMLRequest", "RelayState",
    "privilege", "is_private", "priv", "totp_enabled", "zipCode", "promo_code", "deviceCode",
]  # fmt: skip


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_every_spelling_of_a_secret_key_is_redacted(key: str) -> None:
    assert POLICY.verdict(key) == redaction.SECRET
    assert _meta({key: S, "n": 1}) == {key: redaction.REDACTED, "n": 1}


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_keys_that_name_no_secret_are_kept(key: str) -> None:
    assert POLICY.verdict(key) == redaction.PLAIN
    assert _meta({key: "v", "x": [key]}) == {key: "v", "x": [key]}


def test_key_words() -> None:
    assert redaction.words("X-Amz-Security-Token") == ("x", "amz", "security", "token")
    assert redaction.words("clientSecret") == ("client", "secret")
    assert redaction.words("APIKey") == ("api", "key")
    assert redaction.words("DB_PASSWORD2") == ("db", "password", "2")


def test_non_string_keys_are_judged_by_their_text() -> None:
    value = {b"password": S, ("api", "key"): S, ("region",): "eu", 7: "seven", b"user": "u"}
    assert _meta(value) == {
        "b'password'": redaction.REDACTED,
        "('api', 'key')": redaction.REDACTED,
        "('region',)": "eu",
        "7": "seven",
        "b'user'": "u",
    }


def test_absent_or_flag_secrets_and_token_counts_are_kept() -> None:
    value = {"password": None, "has_secret": True, "token": False, "max_tokens": 1024, "input_tokens": 7.5}
    assert _meta(value) == value
    assert _meta({"refresh_tokens": [S]}) == {"refresh_tokens": redaction.REDACTED}


def test_secret_keys_win_over_the_flat_shortcut() -> None:
    """Dicts of only secret keys, or with a big int beside one, used to skip redaction."""
    assert _meta({"password": S}) == {"password": redaction.REDACTED}
    assert _meta({"id": 2**60, "password": S}) == {"id": str(2**60), "password": redaction.REDACTED}
    assert _meta({"a": None, "b": 0.5, "c": True}) == {"a": None, "b": 0.5, "c": True}


# -- structures ------------------------------------------------------------------------------------


def test_nested_lists_tuples_and_objects_are_walked() -> None:
    class Login:
        def __init__(self) -> None:
            self.user = "ann"
            self.password = S
            self._private = S

    value = {"items": [{"token": S}, ({"secret": S},)], "login": Login(), "deep": [[[{"apiKey": S}]]]}
    assert _meta(value) == {
        "items": [{"token": redaction.REDACTED}, [{"secret": redaction.REDACTED}]],
        "login": {"user": "ann", "password": redaction.REDACTED},
        "deep": [[[{"apiKey": redaction.REDACTED}]]],
    }


def test_values_after_a_secret_flag_or_in_a_secret_pair_are_redacted() -> None:
    argv = ["tool", "--password", S, "--user", "bob", "-token", S, "--db-password=" + S]
    assert _meta(argv) == [
        "tool", "--password", "[REDACTED]", "--user", "bob", "-token", "[REDACTED]", "--db-password=[REDACTED]",
    ]  # fmt: skip
    assert _meta([("api_key", S), ("page", "2")]) == [["api_key", "[REDACTED]"], ["page", "2"]]
    assert _meta(["password", "username"]) == ["password", "[REDACTED]"]  # a pair: names can over-redact
    assert _meta(["user", "password", "email"]) == ["user", "password", "email"]


def test_namedtuple_fields_are_judged_by_name() -> None:
    Login = collections.namedtuple("Login", "user password")
    assert _meta({"login": Login("bob", S)}) == {"login": ["bob", "[REDACTED]"]}


def test_aws_credential_objects_are_never_recorded() -> None:
    from botocore.credentials import Credentials, ReadOnlyCredentials

    credentials = Credentials("AKIDEXAMPLE", S, S + "-token")
    frozen = credentials.get_frozen_credentials()
    assert isinstance(frozen, ReadOnlyCredentials)
    recorded = _meta({"credentials_object": credentials, "frozen": frozen, "listed": [frozen], "key": credentials})
    assert recorded == {
        "credentials_object": "[REDACTED]",
        "frozen": "[REDACTED]",
        "listed": ["[REDACTED]"],
        "key": "[REDACTED]",
    }
    assert S not in _text(_meta(credentials.secret_key and {"c": credentials}))


# -- strings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://alice:pw@host/x", "http://alice:[REDACTED]@host/x"),
        ("postgres://app:pw@db:5432/main", "postgres://app:[REDACTED]@db:5432/main"),
        ("https://ghp_tok@github.com/org/repo", "https://[REDACTED]@github.com/org/repo"),
        ("GET /x?api_key=abc&page=2", "GET /x?api_key=[REDACTED]&page=2"),
        ("--password=hunter2 --user=bob", "--password=[REDACTED] --user=bob"),
        ("Authorization: Bearer abcdef123456", "Authorization: [REDACTED]"),
        ("sent with Bearer abcdef123456 today", "sent with Bearer [REDACTED] today"),
        ("x-api-key: abc\nAccept: */*", "x-api-key: [REDACTED]\nAccept: */*"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED]"),
        ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-_x end", "id [REDACTED] end"),
        ("""{'token': 'abc', "user": "u"}""", """{'token': '[REDACTED]', "user": "u"}"""),
        ("Command '['tool', '--password', 'pw']' failed", "Command '['tool', '--password', '[REDACTED]']' failed"),
        ("plain text, a=b and x == y; name=alice", "plain text, a=b and x == y; name=alice"),
        ("already api_key=[REDACTED]", "already api_key=[REDACTED]"),
    ],
)
def test_text_masks(text: str, masked: str) -> None:
    assert POLICY.mask_text(text) == masked
    assert POLICY.mask_text(masked) == masked  # idempotent: documents may be redacted twice
    assert _meta({"value": text}) == {"value": masked}


def test_json_held_in_a_string_is_redacted_inside_and_stays_a_string() -> None:
    body = json.dumps({"access_token": S, "refresh_token": S, "user": "alice", "expires_in": 3600, "n": [S]})
    recorded = _meta({"statusCode": 200, "body": body})
    assert json.loads(recorded["body"]) == {
        "access_token": "[REDACTED]",
        "refresh_token": "[REDACTED]",
        "user": "alice",
        "expires_in": 3600,
        "n": [S],
    }
    untouched = json.dumps({"user": "alice"}, indent=2)
    assert _meta({"body": untouched}) == {"body": untouched}  # nothing to redact: kept byte for byte
    assert _meta({"body": "[not json"}) == {"body": "[not json"}


def test_secret_held_as_json_keeps_only_its_shape() -> None:
    secret_string = json.dumps({"username": "app", "password": S, "port": 5432, "tls": True})
    recorded = _meta({"Name": "prod/db", "SecretString": secret_string, "SecretBinary": b"x"})
    assert recorded["Name"] == "prod/db"
    assert json.loads(recorded["SecretString"]) == {
        "username": "[REDACTED]",
        "password": "[REDACTED]",
        "port": "[REDACTED]",
        "tls": True,
    }
    assert recorded["SecretBinary"] == "[REDACTED]"


def test_cookies_and_query_strings_keep_their_names() -> None:
    response = {
        "headers": {"Set-Cookie": "session=abc; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly"},
        "multiValueHeaders": {"Set-Cookie": ["a=1; Secure", "b=2"]},
        "cookies": ["session=abc; HttpOnly", "theme=dark"],
        "rawQueryString": "page=2&api_key=abc&flag",
        "cookie_jar": {"session": "abc"},
    }
    assert _meta(response) == {
        "headers": {"Set-Cookie": "session=[REDACTED]; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly"},
        "multiValueHeaders": {"Set-Cookie": ["a=[REDACTED]; Secure", "b=[REDACTED]"]},
        "cookies": ["session=[REDACTED]; HttpOnly", "theme=[REDACTED]"],
        "rawQueryString": "page=[REDACTED]&api_key=[REDACTED]&[REDACTED]",
        "cookie_jar": {"session": "[REDACTED]"},
    }
    assert redaction_masks.mask_cookies("a=1; Path=/, b=2") == "a=[REDACTED]; Path=/, b=[REDACTED]"


# -- configuration ---------------------------------------------------------------------------------


def test_users_extend_and_allow_list_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.REDACT_KEYS, "pin, account-number, -signature, -token_count")
    policy = redaction.current()
    assert policy.verdict("card_pin") == redaction.SECRET
    assert policy.verdict("accountNumber") == redaction.SECRET
    assert policy.verdict("X-Amz-Signature") == redaction.PLAIN
    assert policy.verdict("token_count") == redaction.PLAIN
    assert policy.verdict("token") == redaction.SECRET  # only the exact key was allowed
    assert redaction.current() is policy  # built once per value of the variable
    monkeypatch.setenv(config.REDACT_KEYS, "NONE")
    assert redaction.current().verdict("password") == redaction.PLAIN
    assert redaction.current().mask_text("http://a:b@h/") == "http://a:b@h/"


def test_verdict_cache_is_bounded() -> None:
    policy = redaction.Policy()
    for n in range(10_000):
        policy.verdict(f"key{n}")
    assert len(policy._verdicts) <= 4096
    assert policy.verdict(["unhashable"]) == redaction.PLAIN  # type: ignore[arg-type]


# -- errors ----------------------------------------------------------------------------------------


def _raised(function: Any) -> BaseException:
    try:
        function()
    except BaseException as error:
        return error
    raise AssertionError("did not raise")


def test_json_decode_error_keeps_its_facts_not_the_document() -> None:
    error = _raised(lambda: json.loads('{"user": "ann", "password": "' + S + '", oops'))
    info = capture_convert.error_metadata(error, POLICY, 16 * 1024)
    assert S not in _text(info)
    assert info["type"] == "JSONDecodeError" and info["module"] == "json.decoder"
    assert info["message"].startswith("Expecting")
    assert set(info["attributes"]) == {"msg", "pos", "lineno", "colno"}


def test_subprocess_error_masks_the_command() -> None:
    error = _raised(lambda: subprocess.run([sys.executable, "-c", "exit(3)", "--password", S], check=True))
    info = capture_convert.error_metadata(error, POLICY, 16 * 1024)
    assert S not in _text(info)
    assert info["attributes"] == {"returncode": 3}
    assert info["message"] == "Command [REDACTED] returned non-zero exit status 3."


def test_requests_http_error_keeps_no_request_or_url_secret() -> None:
    import requests

    request = requests.Request("POST", f"http://alice:{S}@example.test/x?api_key={S}", data={"password": S}).prepare()
    response = requests.Response()
    response.status_code, response.url, response.request = 404, request.url or "", request
    error = _raised(response.raise_for_status)
    info = capture_convert.error_metadata(error, POLICY, 16 * 1024)
    assert S not in _text(info), info
    assert info["type"] == "HTTPError" and "example.test/x?api_key=[REDACTED]" in info["message"]


def test_error_attributes_only_short_scalars_and_chained_cause_type_only() -> None:
    class Failure(Exception):
        def __init__(self) -> None:
            super().__init__("failed")
            self.code = 42
            self.reason = "x" * 1000
            self.details = {"a": 1}
            self.body = "payload"
            self.api_key = "k"

    try:
        try:
            raise ValueError(S)
        except ValueError as inner:
            raise Failure() from inner
    except Failure as error:
        info = capture_convert.error_metadata(error, POLICY, 16 * 1024)
    assert info["attributes"] == {"code": 42, "api_key": "[REDACTED]"}
    assert info["cause"] == {"type": "ValueError"}
    assert S not in _text(info)


# -- every path to the wire --------------------------------------------------------------------------


def _datagram_text(documents: list[dict[str, Any]]) -> str:
    return json.dumps(documents)


def test_response_metadata_escape_hatch_and_annotations_are_redacted() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        tracer.put_metadata("login", {"AuthenticationResult": {"AccessToken": S, "TokenType": "Bearer"}})
        tracer.put_metadata("auth", {"user": "ann"})
        tracer.put_metadata("flags", {"password": True})
        tracer.put_annotation("api_key", S)
        tracer.put_annotation("callback", f"https://u:{S}@example.test/")
        tracer.provider.current_subsegment().put_metadata("raw", {"password": S, "user": "ann"}, "escape")
        tracer.provider.current_subsegment().put_annotation("session_token", S)
        return {"statusCode": 200, "body": json.dumps({"id_token": S, "user": "ann"})}

    call = invoke(handler)
    text = _datagram_text(call.documents)
    assert S not in text
    doc = by_name(call.documents, "## handler")
    login = {"AuthenticationResult": {"AccessToken": "[REDACTED]", "TokenType": "Bearer"}}
    assert doc["metadata"]["svc"]["login"] == login
    assert doc["metadata"]["svc"]["auth"] == "[REDACTED]" and doc["metadata"]["svc"]["flags"] == {"password": True}
    assert doc["metadata"]["escape"]["raw"] == {"password": "[REDACTED]", "user": "ann"}
    assert doc["annotations"]["api_key"] == "[REDACTED]" and doc["annotations"]["session_token"] == "[REDACTED]"
    assert doc["annotations"]["callback"] == "https://u:[REDACTED]@example.test/"
    assert json.loads(doc["metadata"]["svc"]["handler response"]["body"]) == {"id_token": "[REDACTED]", "user": "ann"}


def test_sdk_subsegments_from_the_escape_hatch_are_redacted() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        with tracer.provider.in_subsegment("manual") as subsegment:
            subsegment.put_metadata("login", {"Password": S, "when": float("nan")})
            subsegment.put_http_meta("url", f"http://bob:{S}@example.test/?token={S}")
            subsegment.add_exception(ValueError(f"bad url http://bob:{S}@example.test/"), [])
        return "ok"

    call = invoke(handler, expect=2)
    assert S not in _datagram_text(call.documents)
    manual = by_name(call.documents, "manual")
    assert manual["metadata"]["default"]["login"] == {"Password": "[REDACTED]", "when": "nan"}
    assert manual["http"]["request"]["url"] == "http://bob:[REDACTED]@example.test/?token=[REDACTED]"
    assert manual["cause"]["exceptions"][0]["message"] == "bad url http://bob:[REDACTED]@example.test/"


def test_metadata_in_a_namespace_that_names_a_secret_is_masked_as_under_that_key() -> None:
    # The namespace is the outer key of the recorded metadata ({"secrets": {"stripe": …}}): judged like any key of
    # yours. The tracer's own (the service) never is: a service named "auth" keeps its metadata.
    tracer = Tracer(service="auth")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_metadata("stripe", S, namespace="secrets")
        tracer.put_metadata("set", True, namespace="secrets")
        tracer.put_metadata("jar", "sid=" + S, namespace="cookies")
        tracer.put_metadata("user", "ann")
        tracer.put_metadata("role", "admin", namespace="auth")  # the service's namespace, named: still the tracer's
        tracer.provider.current_subsegment().put_metadata("db", S, "Credentials")
        with tracer.provider.in_subsegment("manual") as subsegment:
            subsegment.put_metadata("stripe", {"live": S}, "api_keys")
            subsegment.put_metadata("user", "ann", "default")
        return "ok"

    call = invoke(handler, expect=2)
    assert S not in _datagram_text(call.documents)
    doc = by_name(call.documents, "## handler")
    assert doc["metadata"]["secrets"] == {"stripe": R, "set": True}
    assert doc["metadata"]["cookies"] == {"jar": f"sid={R}"}
    assert doc["metadata"]["auth"]["user"] == "ann" and doc["metadata"]["auth"]["role"] == "admin"
    assert doc["metadata"]["Credentials"] == {"db": R}
    manual = by_name(call.documents, "manual")
    assert manual["metadata"] == {"api_keys": {"stripe": R}, "default": {"user": "ann"}}


def test_handler_exception_cause_message_is_masked() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> None:
        raise RuntimeError(f"upstream said: Authorization: Bearer {S}")

    call = invoke(handler)
    assert isinstance(call.error, RuntimeError) and S in str(call.error)  # the caller's exception is untouched
    assert S not in _datagram_text(call.documents)
    doc = by_name(call.documents, "## handler")
    assert doc["cause"]["exceptions"][0]["message"] == "upstream said: Authorization: Bearer [REDACTED]"


# -- nothing the user passes loses a subsegment ---------------------------------------------------------


def test_odd_annotations_are_cut_converted_or_dropped_and_the_subsegment_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("huge", 10**5000)
        tracer.put_annotation("big", 2**60)
        tracer.put_annotation("long", "y" * 5000)
        tracer.put_annotation("k" * 501, 1)
        tracer.put_annotation("k" * 500, 2)
        tracer.put_annotation("customer", {"password": S})  # type: ignore[arg-type]
        tracer.put_annotation("ratio", float("nan"))
        return "ok"

    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        call = invoke(handler)
    annotations = by_name(call.documents, "## handler")["annotations"]
    assert "huge" not in annotations and "ratio" not in annotations and "customer" not in annotations
    assert annotations["big"] == str(2**60)
    assert annotations["long"] == "y" * 1000
    assert annotations["k" * 500] == 2 and "k" * 501 not in annotations
    assert S not in caplog.text and "yyyyyyyyyy" not in caplog.text and "k" * 30 not in caplog.text


def _invoke_with_header(handler: Any, header: str, trace_id: str) -> list[dict[str, Any]]:
    from lambda_env import FakeContext, sink

    os.environ["_X_AMZN_TRACE_ID"] = header
    try:
        handler({}, FakeContext())
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    return sink().wait_for(trace_id, count=1, timeout=2.0)


def test_absurd_trace_headers_are_cut_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        return "ok"

    _, root, parent = new_trace_header()
    huge = f"Root={root}{'a' * 100_000};Parent={parent}{'b' * 1000};Sampled=1;Lineage={'x' * 100_000};Extra=1"
    documents = _invoke_with_header(handler, huge, root)
    assert [doc["name"] for doc in documents] == ["## handler"]
    assert documents[0]["trace_id"] == root and documents[0]["parent_id"] == parent

    _, other_root, _ = new_trace_header()
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        config._reported.clear()
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=garbage{other_root};Parent={parent};Sampled=1"
        try:
            assert handler({}, None) == "ok"
        finally:
            del os.environ["_X_AMZN_TRACE_ID"]
    assert "Root is not an X-Ray trace id" in caplog.text and "garbage" not in caplog.text


def test_trace_header_fields_kept_for_propagation_are_few_and_short() -> None:
    from lambda_tracer.backends import xray

    header = xray.parse_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
                               f"Lineage={'x' * 300};Self=1-abc;A=1;B=2")  # fmt: skip
    assert header.root == "1-5759e988-bd862e3fe1be46a994272793" and header.parent == "53995c3f42cd8ad8"
    assert header.sampled == "1" and header.data == {"A": "1", "B": "2"}


# -- logs ---------------------------------------------------------------------------------------------


def test_report_once_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    config._reported.clear()
    before = config.suppressed
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        for n in range(5_000):
            config.report_once(("test", str(n)), f"problem {n}")
    assert len(config._reported) == config.MAX_REPORTS
    assert config.suppressed - before == 5_000 - config.MAX_REPORTS
    assert len(caplog.records) < config.MAX_REPORTS + 10
    config._reported.clear()


def test_warnings_quote_no_values(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    config._reported.clear()
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_metadata("k", 1, namespace="AWS." + S)
        tracer.put_annotation(S + S + "!", 1)  # too long to quote
        tracer.put_annotation("bad key!", 1)  # short: quoted, so the user can find it
        tracer.put_annotation("v", [S])  # type: ignore[arg-type]
        return "ok"

    monkeypatch.setenv(config.MAX_CAPTURE_BYTES, S * 100)
    with caplog.at_level(logging.WARNING, logger="lambda_tracer"):
        invoke(handler)
    assert S not in caplog.text
    assert "annotation 'bad key!' dropped" in caplog.text and "annotation <33 characters> dropped" in caplog.text
    assert "AWS." in caplog.text and config.MAX_CAPTURE_BYTES in caplog.text and "<1600 characters>" in caplog.text
    assert config.shown("false-ish") == "'false-ish'" and config.shown("a\nb") == "<3 characters>"


def test_warnings_quote_no_key_holding_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    """Keys short enough to quote are quoted only when they hold nothing the policy masks: ours, and the SDK's
    warnings about what the escape hatch was given."""
    config._reported.clear()
    tracer = Tracer(service="svc")
    token = "tk-41a9"

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation(f"Bearer {token}", 1)
        tracer.put_annotation(f"token={token}", 2)
        with tracer.provider.in_subsegment("escape") as subsegment:
            subsegment.put_annotation(f"token={token}", 3)
            subsegment.put_annotation("bad key!", 4)
            subsegment.put_metadata("k", 1, namespace=f"AWS.token={token}")
            subsegment.put_http_meta(f"token={token}", 1)
        return "ok"

    with caplog.at_level(logging.WARNING):
        invoke(handler, expect=2)
    assert token not in caplog.text
    assert "annotation <14 characters> dropped" in caplog.text and "annotation <13 characters> dropped" in caplog.text
    assert "ignoring annotation with key <13 characters>" in caplog.text and "'bad key!'" in caplog.text
    assert "drop metadata (<17 characters>)" in caplog.text
    assert "ignoring unsupported key <13 characters>" in caplog.text


# -- what a review tried (each was a leak, an invalid document or a broken function) ---------------------


def test_the_escape_hatchs_sql_user_is_masked_as_opentelemetrys_db_user() -> None:
    """The X-Ray SDK's ``sql`` block (``set_sql``) recorded its ``user`` as given, where OpenTelemetry's ``db.user``
    is masked as any text: a user name is kept, a credential form in it masked, in both."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    tracer = Tracer(service="svc")
    users = ["app_rw", f"https://app:{S}@db", f"token={S}", f"Bearer {S}"]

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        for index, user in enumerate(users):
            with tracer.provider.in_subsegment(f"sdk {index}") as subsegment:
                subsegment.set_sql({"url": "postgresql://db/app", "user": user, "sanitized_query": "SELECT 1"})
            attributes = {"db.system": "postgresql", "db.user": user}
            with trace.get_tracer("t").start_as_current_span(
                f"otel {index}", kind=SpanKind.CLIENT, attributes=attributes
            ):
                pass
        return "ok"

    call = invoke(handler, expect=2 * len(users) + 1)
    for index in range(len(users)):
        sdk, otel = by_name(call.documents, f"sdk {index}"), by_name(call.documents, f"otel {index}")
        assert sdk["sql"]["user"] == otel["sql"]["user"] == POLICY.mask_text(users[index])
    assert by_name(call.documents, "sdk 0")["sql"]["user"] == "app_rw"
    assert S not in json.dumps(call.documents)


def test_escape_hatch_on_our_own_subsegment_is_redacted_and_valid() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        subsegment = tracer.provider.current_subsegment()
        tracer.provider.put_annotation("api_key", S)
        tracer.provider.put_annotation("ratio", float("nan"))
        tracer.provider.put_annotation("long", "x" * 5000)
        subsegment.add_exception(ValueError(f"password={S}"), [])
        subsegment.put_http_meta("url", f"https://u:{S}@h/")
        subsegment.put_http_meta("status", float("nan"))
        subsegment.set_aws({"password": S, "operation": "Get", "ratio": float("inf")})
        with tracer.provider.in_subsegment("bad?name" + "n" * 300):
            pass
        return "ok"

    call = invoke(handler, expect=2)
    body = json.dumps(call.documents)
    assert S not in body and "NaN" not in body and "Infinity" not in body
    doc = by_name(call.documents, "## handler")
    assert doc["annotations"]["api_key"] == "[REDACTED]" and len(doc["annotations"]["long"]) == 1000
    assert "ratio" not in doc["annotations"] and "status" not in doc["http"].get("response", {})
    assert doc["aws"] == {"password": "[REDACTED]", "operation": "Get", "ratio": "inf"}
    named = [d for d in call.documents if d["name"].startswith("badname")]
    assert len(named) == 1 and len(named[0]["name"]) == 250


def test_put_metadata_records_the_value_as_it_was_when_put() -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        state = {"step": "start"}
        tracer.put_metadata("state", state)
        state["password"] = S
        state["ratio"] = float("nan")
        return "ok"

    doc = invoke(handler).documents[0]
    assert doc["metadata"]["svc"]["state"] == {"step": "start"}


def test_long_json_bodies_are_masked_before_they_are_cut() -> None:
    body = json.dumps(
        {
            "user": {"password": 98765432, "api_keys": ["k-AAAA"], "refresh_token": {"v": "r-CCCC"}},
            "items": ["x" * 100] * 200,
        }
    )
    recorded = _meta({"statusCode": 200, "body": body})
    text = json.dumps(recorded)
    assert "98765432" not in text and "k-AAAA" not in text and "r-CCCC" not in text
    assert len(text) <= 16 * 1024  # still bounded
    broken = '{"private_key": "' + "Zk9q" * 7000 + '", "pad": "' + "x" * 20_000
    assert "Zk9q" not in json.dumps(_meta({"body": broken}))
    unparsable = '{"private_key": "' + "Zk9q" * 70
    assert _meta({"body": unparsable})["body"] == '{"private_key": "[REDACTED]'  # masked as text, not dropped
    near_cut = "x" * 986 + f"https://user:{S}@h"
    assert S not in json.dumps(capture_convert.error_metadata(ValueError(near_cut), POLICY, 16 * 1024))


@pytest.mark.parametrize(
    "text",
    [
        *["a" * 1_000_000 + "://", "eyJ" * 300_000, "-" * 1_000_000, "=" * 1_000_000, "'a', " * 200_000],
        *["a:" * 500_000, "@ //a:" + "b/" * 500_000, "@ //" + "a:" * 500_000, "@" + "http://a:b" * 100_000],
        # SQL's forms: a user part without its ``=``, keys and calls left open, ``REPLACE`` after every value.
        *["SET PASSWORD FOR " * 100_000, "SET PASSWORD FOR " + "a" * 1_000_000, "PRAGMA key=" * 100_000],
        *["AES_ENCRYPT(" * 100_000, "AES_ENCRYPT((" * 100_000, "pgp_sym_encrypt(a, b) " * 100_000],
        *["IDENTIFIED BY 'a' REPLACE " * 50_000, "PASSWORD 'a' REPLACE '" * 50_000],
        *["@ //a:" + '"' * 1_000_000, "@" + '//a:"x' * 160_000],  # passwords holding quotes
        *['PRAGMA key = \\"' * 70_000, 'AES_ENCRYPT(a, \\"' * 60_000],  # values quoted in JSON text
    ],
)
def test_masks_stay_linear_on_crafted_text(text: str) -> None:
    """Each of these took seconds to hours with backtracking patterns (pytest-timeout would fail them)."""
    assert len(POLICY.mask_text(text)) >= len(text) // 2


@pytest.mark.parametrize(
    "unit", ["Duplicate entry '", "Failing row contains (", "key (a)=(", "Key (token)=(x) already exists. "]
)
def test_a_database_errors_row_is_found_in_one_pass_over_a_crafted_line(unit: str) -> None:
    """``row_values_hidden`` looks at a message's first ``MAX_MESSAGE_CHARS + MASK_MARGIN`` characters only, so its
    pattern is run here on a megabyte: a start whose row never closes on its line was tried again from every later
    start (a 5 KB line of ``Duplicate entry '`` cost ~15 ms, a megabyte hours: pytest-timeout fails it)."""
    line = unit * (1_000_000 // len(unit))
    hidden = redaction.compiled(redaction._FAILED_ROW).sub(lambda match: "", line)
    assert len(hidden) < len(line)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Duplicate entry 'x' rejected; DETAIL: Key (api_token)=(tk-1) already exists.",
            f"Key (api_token)=({redaction.REDACTED})",
        ),
        (
            "Duplicate entry 'x' rejected; Failing row contains (7, tk-2).",
            f"Failing row contains ({redaction.REDACTED}).",
        ),
    ],
)
def test_a_duplicate_entry_without_its_key_hides_no_later_row_on_its_line(message: str, expected: str) -> None:
    """A ``Duplicate entry '`` with no ``' for key '`` after it is kept, but what follows it on its line is still looked
    at: a key's or failed row's values quoted later on that line were recorded as they were."""
    hidden = redaction.row_values_hidden(message, POLICY)
    assert expected in hidden and hidden.startswith("Duplicate entry 'x' rejected; ")


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ('"name": "password", "value": [', '"name": "password", "value": "[REDACTED]"'),  # a list left open
        ("{'Name': 'db_password', 'Value': (", "{'Name': 'db_password', 'Value': '[REDACTED]'"),
        (' name="token" value=[', ' name="token" value=[REDACTED]'),  # XML attributes
        ("name: token\nvalue: [", "name: token\nvalue: [REDACTED]"),  # YAML
        ("identified by [", None),  # prose: what follows ``identified by`` in lower case unquoted is no password
        ("identified by x(", None),
        ("PRAGMA key=(", "PRAGMA key=[REDACTED]"),  # SQL's forms
        ("AES_DECRYPT(a, (", "AES_DECRYPT(a, [REDACTED]"),
        ("pgp_sym_encrypt('a', ", "pgp_sym_encrypt('a', [REDACTED]"),
        ("AES_ENCRYPT((", None),
    ],
)
def test_brackets_opened_after_many_names_are_scanned_once(
    monkeypatch: pytest.MonkeyPatch, unit: str, expected: str | None
) -> None:
    """Each of these names opens a bracket that runs to the text's end, and each was scanned to it again: 20 KB of
    them took 0.2 to 0.3 s to mask, a list of such strings 3 s within one value's scan budget. A value already masked
    is not looked into again, and an unquoted word after ``identified by`` in lower case is not scanned."""
    scans = []
    closing_bracket = redaction_masks._closing_bracket
    monkeypatch.setattr(
        redaction_masks,
        "_closing_bracket",
        lambda text, start, *rest: scans.append(start) or closing_bracket(text, start, *rest),
    )
    text = unit * 500
    assert redaction.Policy().mask_text(text) == (text if expected is None else expected)
    assert len(scans) <= 1


def test_percent_encoded_urls_and_pairs_are_masked_where_they_hold_a_secret() -> None:
    """A URL or query string inside a query value (``next=``, ``redirect_uri=``) is decoded, masked and encoded
    again where it held a secret; what holds none is kept byte for byte."""
    masked = POLICY.mask_text
    assert masked(f"https://h/login?next=%2Fcb%3Faccess_token%3D{S}%26state%3D1&lang=en") == (
        "https://h/login?next=%2Fcb%3Faccess_token%3D[REDACTED]%26state%3D1&lang=en"
    )
    assert masked(f"go https%3A%2F%2Fsvc%3A{S}%40db%2Fx now") == "go https%3A%2F%2Fsvc%3A[REDACTED]%40db%2Fx now"
    assert masked(f"a=1&password%3d{S}") == "a=1&password%3D[REDACTED]"
    assert masked(f"%7B%22password%22%3A%22{S}%22%7D") == "%7B%22password%22%3A%22[REDACTED]%22%7D"
    assert masked(f"password%253D{S}") == "password%253D[REDACTED]"  # encoded twice
    assert masked(f"x%0Apassword%3D{S}&q=%2Fa%3Fsig%3D{S}") == "x%0Apassword%3D[REDACTED]&q=%2Fa%3Fsig%3D[REDACTED]"
    for kept in ("https://h/x?next=%2Fcb%3Fpage%3D2%26q%3Da%2540b", "100%25 sure", "t=10%3A00&to=ann%40h.com"):
        assert masked(kept) is kept


def test_percent_encoded_runs_are_masked_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of encoded pairs cost one ``mask_text`` of them all, not one each; past the first few masked alone
    (a run holding a line break), one that may hold a secret is masked whole, never left as it was."""
    policy = redaction.Policy()
    calls = []
    mask_text = policy.mask_text
    monkeypatch.setattr(policy, "mask_text", lambda text, depth=0: calls.append(depth) or mask_text(text, depth))
    text = f"password%3D{S}&" * 5_000
    assert policy.mask_text(text) == "password%3D[REDACTED]&" * 5_000
    assert calls == [0, 1]
    calls.clear()
    broken = f"a%0Ab%3Dc&password%3D{S}&" * 100
    recorded = policy.mask_text(broken)
    assert S not in recorded and recorded.endswith("&a%0Ab%3Dc&[REDACTED]&")  # the last pairs masked whole
    assert calls == [0] + [1] * redaction_encoded._ENCODED_ALONE


def test_html_escaped_json_and_xml_are_masked_in_place() -> None:
    """JSON or XML escaped into HTML (a template's ``data-state="{&quot;token&quot;:…}"``, an error page quoting
    ``&lt;password&gt;…``) is masked where it holds a secret, its entities kept as they were; what holds none is
    kept byte for byte."""
    masked = POLICY.mask_text
    assert masked(f"{{&quot;password&quot;:&quot;{S}&quot;,&quot;user&quot;:&quot;ann&quot;}}") == (
        "{&quot;password&quot;:&quot;[REDACTED]&quot;,&quot;user&quot;:&quot;ann&quot;}"
    )
    assert masked(f"<pre>&lt;password&gt;{S}&lt;/password&gt;&lt;user&gt;ann&lt;/user&gt;</pre>") == (
        "<pre>&lt;password&gt;[REDACTED]&lt;/password&gt;&lt;user&gt;ann&lt;/user&gt;</pre>"
    )
    assert masked(f'<div data-state="{{&#34;token&#34;: &#34;{S}&#34;, &#34;n&#34;: 1}}" id="x">') == (
        '<div data-state="{&#34;token&#34;: &#34;[REDACTED]&#34;, &#34;n&#34;: 1}" id="x">'
    )
    assert masked(f"{{&#x22;apiKey&#x22;:&#x22;{S}&#x22;}} &amp; more") == (
        "{&#x22;apiKey&#x22;:&#x22;[REDACTED]&#x22;} &amp; more"
    )
    assert masked(f"{{&#39;password&#39;: &#39;{S}&#39;, &#39;pin&#39;: 1234}}") == (  # markupsafe escapes a repr so
        "{&#39;password&#39;: &#39;[REDACTED]&#39;, &#39;pin&#39;: 1234}"
    )
    assert masked("{&quot;secret&quot;: 12345}") == "{&quot;secret&quot;: &quot;[REDACTED]&quot;}"  # still JSON
    assert masked(f"Name: {S}\n{{&quot;password&quot;:&quot;{S}&quot;}}") == (  # the name's line kept
        f"Name: {S}\n{{&quot;password&quot;:&quot;[REDACTED]&quot;}}"
    )
    for kept in (
        "{&quot;password_length&quot;:&quot;12&quot;}",
        "&lt;token_type&gt;Bearer&lt;/token_type&gt;",
        "password &amp; user &lt; 3",
        "&quot;token&quot;",
    ):
        assert masked(kept) is kept
    body = f"<html><body data-json='{{&quot;access_token&quot;:&quot;{S}&quot;}}'>x</body></html>"
    recorded = _meta({"statusCode": 200, "body": body})
    assert recorded == {"statusCode": 200, "body": body.replace(S, "[REDACTED]")}


def test_html_escaped_quotes_with_leading_zeros_are_masked() -> None:
    """Numeric references padded with zeros are how JSTL's ``<c:out>`` and ``fn:escapeXml`` write quotes (``&#034;``,
    ``&#039;``) and PHP's ``htmlspecialchars`` a ``'`` (``&#039;``): they were unescaped, but never looked for."""
    masked = POLICY.mask_text
    assert masked(f"{{&#034;password&#034;:&#034;{S}&#034;}}") == "{&#034;password&#034;:&#034;[REDACTED]&#034;}"
    assert masked(f"{{&#039;token&#039;: &#039;{S}&#039;}}") == "{&#039;token&#039;: &#039;[REDACTED]&#039;}"
    assert masked(f"&#060;password&#062;{S}&#060;/password&#062;") == (
        "&#060;password&#062;[REDACTED]&#060;/password&#062;"
    )
    assert masked(f"{{&#x00022;apiKey&#x00022;:&#x00022;{S}&#x00022;}}") == (
        "{&#x00022;apiKey&#x00022;:&#x00022;[REDACTED]&#x00022;}"
    )
    kept = "{&#034;password_length&#034;:12} &#0065;"
    assert masked(kept) is kept


def test_html_escaped_values_on_lines_of_their_own_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Escaped XML printed with its values on lines of their own (an error page's ``<pre>`` quoting a request): a run
    held every line but the value's, which was kept; runs now hold line breaks, and what no mask changed stays as it
    was, still in one pass."""
    policy = redaction.Policy()
    calls = []
    mask_text = policy.mask_text
    monkeypatch.setattr(policy, "mask_text", lambda text, depth=0: calls.append(depth) or mask_text(text, depth))
    masked = policy.mask_text
    assert S not in masked(f"<pre>&lt;Password&gt;\n  {S}\n&lt;/Password&gt;</pre>")
    assert S not in masked(f"<pre>&lt;secret&gt;\r\n{S}\r\n&lt;/secret&gt;\n&lt;user&gt;ann&lt;/user&gt;</pre>")
    pretty = (
        f'<pre>{{\n  &quot;password&quot;: &quot;{S}&quot;,\n  &quot;user&quot;: &quot;ann&quot;\n}}</pre><a href="x">'
    )
    calls.clear()
    assert masked(pretty * 1_000) == pretty.replace(S, "[REDACTED]") * 1_000
    assert calls == [0, 1]
    kept = "<pre>&lt;user&gt;\n  ann\n&lt;/user&gt;\n&quot;token_type&quot;</pre>"
    assert masked(kept) is kept


def test_html_escaped_runs_are_masked_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of escaped pairs, each a run of its own between raw tags, cost one ``mask_text`` of them all, not
    one each; a text whose masks would cross runs has its first few runs masked alone, and past them one that may
    hold a secret masked whole, never left as it was."""
    policy = redaction.Policy()
    calls = []
    mask_text = policy.mask_text
    monkeypatch.setattr(policy, "mask_text", lambda text, depth=0: calls.append(depth) or mask_text(text, depth))
    unit = f"<td>{{&quot;password&quot;:&quot;{S}&quot;}}</td>"
    text = unit * 5_000
    assert policy.mask_text(text) == unit.replace(S, "[REDACTED]") * 5_000
    assert calls == [0, 1]
    calls.clear()
    crossing = f"<b>&quot;password&quot;: [1,</b><i>2], &quot;token&quot;: &quot;{S}&quot;</i>" * 100  # [1,\n2]
    recorded = policy.mask_text(crossing)
    assert S not in recorded
    assert calls == [0, 1] + [1] * redaction_encoded._ENCODED_ALONE


def _wide(text: str) -> str:
    """``text`` in fullwidth forms (``password=`` as a Japanese input method types it), spaces as ideographic ones."""
    return text.translate({code: code + 0xFEE0 for code in range(0x21, 0x7F)} | {0x20: 0x3000})


def test_fullwidth_names_in_text_are_masked() -> None:
    """A name written in fullwidth forms (U+FF01 to U+FF5E: ``password=`` as an input method types it) names a secret
    in text as in a key; a text holding no fullwidth letter pays one search more, and one whose folding reveals no
    secret is kept as it is."""
    policy = redaction.Policy()
    assert policy.needs_mask(_wide("password=") + S)
    assert policy.mask_text(f"{_wide('password')}={S} ok") == "password=[REDACTED] ok"
    assert policy.mask_text(f"ログイン{_wide(':token=')}{S}{_wide(' ')}完了") == "ログイン:token=[REDACTED] 完了"
    assert policy.mask_text(_wide('{"apiKey":"') + S + _wide('"}')) == '{"apiKey":"[REDACTED]"}'
    token = "ghp_" + "a" * 36
    assert policy.mask_text(f"{_wide('x')}{token} {_wide('password:')} {S}") == "x[REDACTED] password: [REDACTED]"
    for kept in (_wide("ABC123(") + "注" + _wide(")"), "価格" + _wide(":100") + "円", _wide("options=1")):
        assert not policy.needs_mask(kept)
    for kept in (_wide("ABC123(") + "注" + _wide(")"), _wide("passport=123"), _wide("password_length=12")):
        assert policy.mask_text(kept) is kept
    assert _meta({"note": _wide("password=") + S, "n": 1}) == {"note": "password=[REDACTED]", "n": 1}


def test_ascii_names_before_fullwidth_separators_are_masked() -> None:
    """Japanese text types its colons and equals signs fullwidth after names typed in ASCII (U+FF1A after
    ``password``): the separator alone is enough to fold; a text without a secret name is kept as it is."""
    policy = redaction.Policy()
    assert policy.mask_text(f"ID{_wide(':')}ann{_wide(' ')}password{_wide(':')}{S}") == "ID:ann password:[REDACTED]"
    assert policy.mask_text(f"token{_wide(' = ')}{S}") == "token = [REDACTED]"
    for kept in ("価格" + _wide(":100") + "円", "ID" + _wide(":") + "ann", _wide("ABC=1")):
        assert policy.mask_text(kept) is kept


def test_multipart_form_fields_named_as_secrets_are_masked() -> None:
    """A form posted as ``multipart/form-data`` (API Gateway passes it base64-encoded) holds each field's value on
    the lines after its ``Content-Disposition: form-data; name="…"`` header and a blank line: unmasked, the body was
    recorded as it was, its password in base64."""
    import base64

    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\nann\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n{S}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="api_key"\r\nContent-Type: text/plain\r\n\r\n'
        f"{S}\n--second line\r\n--{boundary}--\r\n"
    )
    masked = body.replace(f"{S}\r\n", f"{R}\r\n").replace(f"{S}\n--second line\r\n", f"{R}\r\n")
    assert POLICY.mask_text(body) == masked
    assert POLICY.mask_text(body.replace("\r\n", "\n")) == masked.replace("\r\n", "\n")
    event = {"isBase64Encoded": True, "body": base64.b64encode(body.encode()).decode()}
    assert _meta(event) == {"isBase64Encoded": True, "body": masked}
    assert POLICY.mask_text(body.replace("password", "comment")).count(S) == 1  # only what a secret name holds


def test_a_quoted_value_after_a_secret_name_and_spaces_is_masked() -> None:
    masked = POLICY.mask_text
    assert masked(f"CREATE USER app WITH PASSWORD '{S}'") == "CREATE USER app WITH PASSWORD '[REDACTED]'"
    assert masked(f"ALTER ROLE r ENCRYPTED PASSWORD \"{S}\" VALID UNTIL 'x'") == (
        "ALTER ROLE r ENCRYPTED PASSWORD \"[REDACTED]\" VALID UNTIL 'x'"
    )
    assert masked(f"alter user u identified by '{S}'") == "alter user u identified by '[REDACTED]'"
    assert (
        masked(f"ALTER USER u IDENTIFIED BY {S} ACCOUNT UNLOCK")
        == "ALTER USER u IDENTIFIED BY [REDACTED] ACCOUNT UNLOCK"
    )
    assert masked(f'refresh token "{S}" expired') == 'refresh token "[REDACTED]" expired'
    assert masked(f"CREATE USER u IDENTIFIED WITH `caching_sha2_password` BY '{S}'") == (
        "CREATE USER u IDENTIFIED WITH `caching_sha2_password` BY '[REDACTED]'"
    )
    prose = ("identified by the team", "identified with care by the team", "the 'password' field", "said 'hello'")
    for kept in (*prose, "PASSWORD 'null'", "key 'k1'"):
        assert masked(kept) == kept


def test_sql_that_sets_a_password_or_a_key_is_masked() -> None:
    """MySQL's ``SET PASSWORD [FOR user] = '…'`` and the old password of ``… REPLACE '…'``, SQLCipher's
    ``PRAGMA key``/``rekey`` (its raw key ``"x'…'"`` too), PostgreSQL's ``PASSWORD '…'`` (``CREATE ROLE … WITH LOGIN``),
    as a database instrumentation's ``db.statement`` records them: the literal masked, the statement kept."""
    masked = POLICY.mask_text
    cases = {
        f"SET PASSWORD FOR 'app'@'%' = '{S}'": "SET PASSWORD FOR 'app'@'%' = '[REDACTED]'",
        f"set password for app@localhost='{S}'": "set password for app@localhost='[REDACTED]'",
        f"SET PASSWORD FOR `app`@`h` = '{S}' REPLACE '{S}-old'": (
            "SET PASSWORD FOR `app`@`h` = '[REDACTED]' REPLACE '[REDACTED]'"
        ),
        f"SET PASSWORD = '{S}'": "SET PASSWORD = '[REDACTED]'",
        f"SET PASSWORD = '{S}' REPLACE '{S}-old'": "SET PASSWORD = '[REDACTED]' REPLACE '[REDACTED]'",
        f"ALTER USER 'app'@'%' IDENTIFIED BY '{S}' REPLACE '{S}-old' RETAIN CURRENT PASSWORD": (
            "ALTER USER 'app'@'%' IDENTIFIED BY '[REDACTED]' REPLACE '[REDACTED]' RETAIN CURRENT PASSWORD"
        ),
        f"PRAGMA key = '{S}'": "PRAGMA key = '[REDACTED]'",
        f"pragma key='{S}';": "pragma key='[REDACTED]';",
        f"PRAGMA rekey = '{S}'": "PRAGMA rekey = '[REDACTED]'",
        f"PRAGMA main.key = \"x'{S}'\"": 'PRAGMA main.key = "[REDACTED]"',
        f"PRAGMA hexkey('{S}')": "PRAGMA hexkey('[REDACTED]')",
        f"PRAGMA key = {S};": "PRAGMA key = [REDACTED];",
        f"ALTER ROLE app WITH PASSWORD '{S}'": "ALTER ROLE app WITH PASSWORD '[REDACTED]'",
        f"CREATE ROLE app WITH LOGIN PASSWORD '{S}'": "CREATE ROLE app WITH LOGIN PASSWORD '[REDACTED]'",
        f"ALTER USER app PASSWORD '{S}'": "ALTER USER app PASSWORD '[REDACTED]'",
    }
    assert {text: masked(text) for text in cases} == cases
    kept = ("PRAGMA key_info(idx)", "PRAGMA journal_mode = 'wal'", "REPLACE INTO t VALUES ('a')", "SET PASSWORD = NULL")
    for text in (*kept, "UPDATE t SET password = NULL", "ALTER USER app IDENTIFIED BY 'x' REPLACE"):
        assert masked(text) == text.replace("'x'", "'[REDACTED]'")


def test_the_key_argument_of_sql_encryption_functions_is_masked() -> None:
    """MySQL's ``AES_ENCRYPT(str, key)``/``AES_DECRYPT`` and pgcrypto's ``pgp_sym_encrypt(data, password)``/
    ``pgp_sym_decrypt``: a key given as a literal (or an expression holding one) is masked, the data kept, and a bind
    parameter or a column is kept."""
    masked = POLICY.mask_text
    cases = {
        f"SELECT AES_ENCRYPT('data', '{S}')": "SELECT AES_ENCRYPT('data', '[REDACTED]')",
        f'SELECT aes_decrypt(col, "{S}") FROM t': 'SELECT aes_decrypt(col, "[REDACTED]") FROM t',
        f"SELECT AES_ENCRYPT(CONCAT(a, ','), UNHEX(SHA2('{S}', 512)))": (
            "SELECT AES_ENCRYPT(CONCAT(a, ','), [REDACTED])"
        ),
        f"SELECT AES_DECRYPT(col, X'{S}')": "SELECT AES_DECRYPT(col, [REDACTED])",
        f"INSERT INTO t VALUES (pgp_sym_encrypt('data', '{S}', 'cipher-algo=aes256'))": (
            "INSERT INTO t VALUES (pgp_sym_encrypt('data', '[REDACTED]', 'cipher-algo=aes256'))"
        ),
        f"SELECT pgp_sym_decrypt(body::bytea, '{S}')": "SELECT pgp_sym_decrypt(body::bytea, '[REDACTED]')",
    }
    assert {text: masked(text) for text in cases} == cases
    kept = ("SELECT AES_ENCRYPT(%s, %s)", "SELECT AES_DECRYPT(col, @key)", "SELECT pgp_sym_encrypt($1, $2)")
    for text in (*kept, "SELECT AES_ENCRYPT(col, key_col)", "SELECT pgp_sym_decrypt(col, :key)", "AES_ENCRYPT("):
        assert masked(text) == text


@pytest.mark.parametrize("levels", [1, 2])
def test_an_sql_key_quoted_in_json_text_is_masked_to_its_escaped_quote(levels: int) -> None:
    """A statement quoted in JSON text (an API's error body in a message, a log line): its key's quotes are escaped
    (``\\"k\\"``), and the backslash before the opening one was read as a literal's prefix (``X'…'``), so the mask ran
    past the closing one to the next comma, or to the text's end in JSON held in JSON: what followed was lost."""
    text = json.dumps({"q": f'SELECT AES_ENCRYPT(col, "{S}") FROM t', "user": "ann"})
    for _ in range(levels - 1):
        text = json.dumps(text)
    expected = text.replace(S, "[REDACTED]")
    assert POLICY.mask_text(text) == expected
    assert redaction.exception_message(ValueError(text), POLICY) == expected


@pytest.mark.parametrize(
    "statement", ['PRAGMA key = "{}"', 'SET PASSWORD FOR "u" = "{}"', 'ALTER USER u IDENTIFIED BY "{}"']
)
def test_an_sql_password_quoted_in_json_text_is_masked(statement: str) -> None:
    """The same statements quoted in JSON text: the value's quotes are escaped (``\\"pw\\"``), and only the backslash
    before the opening one was masked, the password recorded after it."""
    text = json.dumps({"q": statement.format(S), "user": "ann"})
    assert POLICY.mask_text(text) == text.replace(S, "[REDACTED]")


def test_message_quoting_input_is_masked() -> None:
    masked = POLICY.mask_text
    assert S not in masked(f"1 validation error [type=string_too_short, input_value='{S}', input_type=str]")
    assert S not in masked(f"bad config Cfg(host='h', password='{S}')")
    assert S not in masked(f"'password={S}'")
    assert S not in masked(f"token=\"{S}\" AWS_SECRET_ACCESS_KEY='{S}'")
    assert S not in masked(f"tool --password {S} --user bob") and "--user bob" in masked(f"--password {S} --user bob")
    assert S not in masked(f"https://app/cb#access_token={S}&token_type=bearer")
    assert S not in masked(f"password=Xy7#{S}")
    assert S not in masked(f"https://user:p@ss{S}@host/") and "@host/" in masked(f"https://user:p@ss{S}@host/")
    assert S not in masked(f"//user:{S}@host/x")
    assert S not in masked(f"api%5Fkey={S}") and S not in masked(f"user[password]={S}")
    assert S not in masked(f"{{'x-api-key': ['{S}'], 'password': b'{S}'}}")
    assert S not in masked(f"-----BEGIN RSA PRIVATE KEY-----\n{S}\n-----END RSA PRIVATE KEY-----")
    assert S not in masked(f"<login><user>ann</user><password>{S}</password></login>")
    assert S not in masked(f"password: {S}\nuser: ann") and "user: ann" in masked(f"password: {S}\nuser: ann")
    assert S not in masked(f"Authorization: Token {S}") and S not in masked(f"authorization=token {S}")
    assert S not in _meta({"body": json.dumps(json.dumps({"password": S}))})["body"]


def test_name_and_value_pairs_are_judged_by_the_name() -> None:
    recorded = _meta(
        {
            "Parameter": {"Name": "/prod/db/password", "Type": "String", "Value": S},
            "Secure": {"Name": "/prod/db/host", "Type": "SecureString", "Value": S},
            "Plain": {"Name": "/prod/db/host", "Type": "String", "Value": "db.local"},
            "env": [{"name": "DB_PASSWORD", "value": S}, {"name": "REGION", "value": "eu-west-1"}],
            "cfn": [{"ParameterKey": "DbPassword", "ParameterValue": S}],
        }
    )
    assert S not in json.dumps(recorded)
    assert recorded["Plain"]["Value"] == "db.local" and recorded["env"][1]["value"] == "eu-west-1"
    assert _meta({"Key": "api_token", "Value": S}) == {"Key": "api_token", "Value": "[REDACTED]"}


def test_huge_keys_are_neither_cached_nor_kept() -> None:
    policy = redaction.Policy()
    huge = "k" + "a" * 1_000_000
    assert policy.verdict(huge) == redaction.PLAIN and huge not in policy._verdicts
    assert policy.verdict("password" + "x" * 1_000_000) == redaction.SECRET


@pytest.mark.parametrize(
    "key",
    [
        "PassWord",
        "pass_word",
        "passWORD",
        "pass_phrase",
        "PASSWORDhash",
        "SECRETkey",
        "\uff30\uff21\uff33\uff33\uff37\uff2f\uff32\uff24",
        "pass\u200bword",
        "session",
        "DB_PASS",
        "db_pw",
    ],
)
def test_unusual_spellings_are_secret(key: str) -> None:
    assert POLICY.verdict(key) != redaction.PLAIN


def test_cookies_without_values_and_attribute_named_cookies_are_masked() -> None:
    assert _meta({"Cookie": S, "cookies": [S], "Cookie2": f"path={S}; secure={S}"}) == {
        "Cookie": "[REDACTED]",
        "cookies": ["[REDACTED]"],
        "Cookie2": "path=[REDACTED]; secure=[REDACTED]",
    }
    assert _meta({"rawQueryString": S, "queryStringParameters": {"code": S}}) == {
        "rawQueryString": "[REDACTED]",
        "queryStringParameters": {"code": "[REDACTED]"},
    }


def test_keys_and_names_with_url_credentials_are_masked() -> None:
    assert _meta({"pools": {f"postgres://app:{S}@db/x": 3}}) == {"pools": {"postgres://app:[REDACTED]@db/x": 3}}
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        with tracer.provider.in_subsegment(f"call https://u:{S}@h/"):
            pass
        return "ok"

    assert S not in json.dumps(invoke(handler, expect=2).documents)


def test_functions_named_for_secrets_still_have_their_responses_recorded() -> None:
    """The tracer's own keys (``<name> response``) are never judged: only what is inside is redacted."""
    tracer = Tracer(service="svc")
    secret_value = {"Name": "prod/db", "SecretString": json.dumps({"username": "app", "password": S})}

    @tracer.capture_method
    def get_secret() -> dict[str, Any]:
        return secret_value

    @tracer.capture_lambda_handler
    def refresh_token(event: dict[str, Any], context: object) -> dict[str, Any]:
        get_secret()
        return {"user": "ann", "token": S}

    call = invoke(refresh_token, expect=2)
    assert S not in json.dumps(call.documents)
    name = "test_redaction.test_functions_named_for_secrets_still_have_their_responses_recorded.locals.get_secret"
    method, handler = by_name(call.documents, f"## {name}"), by_name(call.documents, "## refresh_token")
    recorded = method["metadata"]["svc"][f"{name} response"]
    R = redaction.REDACTED
    assert recorded == {"Name": "prod/db", "SecretString": f'{{"username":"{R}","password":"{R}"}}'}
    assert handler["metadata"]["svc"]["refresh_token response"] == {"user": "ann", "token": R}


def test_header_fields_that_would_break_outgoing_requests_are_not_passed_on() -> None:
    from lambda_tracer.backends import xray

    header = xray.parse_header(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a\u20acb;Foo=a\rb;Ok=1"
    )
    assert header.data == {"Ok": "1"}


def test_sqlite3_connect_by_keyword_still_works_when_patched() -> None:
    tracer = Tracer(service="svc", patch_modules=["sqlite3"])

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> int:
        import sqlite3

        with sqlite3.connect(database=":memory:") as connection:
            return int(connection.execute("select 41 + 1").fetchone()[0])

    call = invoke(handler, expect=1)
    assert call.error is None and call.result == 42


def test_an_annotation_value_that_raises_does_not_reach_the_caller() -> None:
    class Hostile(str):
        def __len__(self) -> int:
            raise RuntimeError("boom")

    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_annotation("k", Hostile("v"))
        return "ok"

    assert invoke(handler).result == "ok"


def test_keys_of_small_flat_dicts_and_mixed_case_schemes_are_masked() -> None:
    """Two survivors of mutation testing: the flat-dict shortcut skipped keys; the bearer gate was case-bound."""
    assert _meta({f"https://u:{S}@h": 1}) == {"https://u:[REDACTED]@h": 1}
    assert POLICY.mask_text("BeArEr abcdefgh1234") == "BeArEr [REDACTED]"
    assert POLICY.mask_text("BASIc abcdefgh1234") == "BASIc [REDACTED]"


# -- the review of the second round -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"credentials=AKIAIOSFODNN7EXAMPLE:{S}",  # a token at the start of a value: the value is masked whole
        f"password=ghp_{'a' * 36}-{S}",
        f"ERROR:db:password={S}",  # logging's LEVEL:logger:message
        f"error:api_key={S}",
        f"{{b'password': b'{S}'}}",
        f"[(b'x-api-key', b'{S}')]",
        f"{{'password': bytearray(b'{S}')}}",
        f"Config(password=SecretStr('{S}'))",
        f"{{'/prod/db/password': '{S}'}}",
        f'{{"db:password": "{S}"}}',
        f'<add key="ApiKey" value="{S}"/>',
        f'<entry key="password">{S}</entry>',
        f'<input name="password" value="{S}">',
        f"password: |\n  {S}\nuser: bob",
        f"password:\n  {S}\n",
        f"- name: DB_PASSWORD\n  value: {S}\n- name: HOST\n  value: db",
        f"https:\\/\\/ann:{S}@h",
        f"password=It's{S}",
        f"password=<{S}>",
        f"DB_PASS={S}",
        f"passwd:{S}",
        f'"password":\n  "{S}"',
    ],
)
def test_review_leaks_are_masked(text: str) -> None:
    assert S not in POLICY.mask_text(text)
    assert S not in POLICY.mask_message(text, 1000)


def test_review_leaks_through_values() -> None:
    import base64
    from typing import NamedTuple

    class Login(NamedTuple):
        user: str
        password: str

    assert capture.to_metadata({"login": Login("ann", S)}, POLICY, 16384, copy=False) == {"login": ["ann", R]}
    event = {"isBase64Encoded": True, "body": base64.b64encode(f"password={S}".encode()).decode()}
    assert S not in json.dumps(capture.to_metadata({"body": json.dumps(event)}, POLICY, 16384))
    assert S not in json.dumps(capture.to_metadata({"body": json.dumps(event, separators=(",", ":"))}, POLICY, 16384))


def test_review_silences_are_kept() -> None:
    kept = {
        "Sid": "AllowRead", "auth_time": 1700000000, "token_use": "id", "apiKeySource": "HEADER", "tokenizer": "bpe",
        "secretary": "ann", "session_start": "t", "authMethod": "pw", "credentialScope": "20260101/us-east-1/s3",
        "TokenValidityUnits": {"AccessToken": "hours"}, "tokens_used": 12,
    }  # fmt: skip
    assert _meta(kept) == {**kept, "TokenValidityUnits": {"AccessToken": R}}
    assert POLICY.mask_text("secretary: ann") == "secretary: ann"


def test_review_names_and_namespaces_are_masked() -> None:
    assert capture.masked_name(f"GET https://h/x?(api_key)={S}", POLICY) == f"GET https://h/xapi_key={R}"
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        tracer.put_metadata("k", 1, namespace=f"https://ann:{S}@h")
        return "ok"

    assert S not in json.dumps(invoke(handler).documents)


R = redaction.REDACTED


# -- exact outputs, pinned against the mutants `make mutation` left alive ----------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("X-Amz-Security-Token", ("x", "amz", "security", "token")),
        ("clientSecret", ("client", "secret")),
        ("HTTPServer", ("http", "server")),
        ("abc123", ("abc", "123")),
        ("DB_PASSWORD", ("db", "password")),
        ("\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", ("password",)),  # fullwidth
        ("pass\u200bword", ("password",)),  # a zero-width space dropped
        ("h\u00e9llo", ("h", "\u00e9", "llo")),
        ("\u03a9mega", ("\u03c9", "mega")),
        ("", ()),
        ("__--", ()),
    ],
)
def test_words(key: str, expected: tuple[str, ...]) -> None:
    assert redaction.words(key) == expected


def test_words_cut_to_max_key_chars() -> None:
    assert redaction.words("a" * 300) == ("a" * 256,)
    assert redaction.words("a" * 256 + "Secret") == ("a" * 256,)
    assert redaction.words("\u00e9" * 300) == ("\u00e9" * 256,)


@pytest.mark.parametrize(
    ("key", "verdict"),
    [
        ("password", SECRET),
        ("token_type", PLAIN),
        ("password_length", PLAIN),
        ("secret_name", PLAIN),
        ("auth_type", PLAIN),
        ("cookie_name", PLAIN),
        ("query_string_length", PLAIN),
        ("type", PLAIN),
        ("max_tokens", COUNTS),
        ("input_tokens", COUNTS),
        ("tokens", COUNTS),
        ("my_secret_tokens", COUNTS),
        ("access_token", SECRET),
        ("dbpassword", SECRET),
        ("pass_word", SECRET),
        ("api_key", SECRET),
        ("apiKey", SECRET),
        ("AccessKey", SECRET),
        ("private_key", SECRET),
        ("connection_string", SECRET),
        ("SessionId", SECRET),
        ("session", SECRET),
        ("sid", PLAIN),  # an IAM policy's statement id; session ids are sessionId, session_id
        ("csrf_token", SECRET),
        ("x_csrf", SECRET),
        ("authorization", SECRET),
        ("Cookie", COOKIE),
        ("set-cookie", COOKIE),
        ("cookies", COOKIE),
        ("rawQueryString", QUERY),
        ("queryStringParameters", QUERY),
        ("query_params", QUERY),
        ("querystring", QUERY),
        ("x_querystring", QUERY),
        ("url.query", QUERY),  # OpenTelemetry's
        ("search_query", PLAIN),
        ("query", PLAIN),
        ("params_query", PLAIN),
        ("name", PLAIN),
        ("", PLAIN),
        ("__", PLAIN),
        (b"api_key", SECRET),
        (bytearray(b"password"), SECRET),
        (("api", "key"), SECRET),
        (("api", b"key", 3), SECRET),
        (("a", "b", "c", "d", "e", "f", "g", "h", "password"), PLAIN),  # only 8 parts are looked at
        (("a", "b", "c", "d", "e", "f", "g", "password"), SECRET),
        (5, PLAIN),
        (None, PLAIN),
    ],
)
def test_default_verdicts(key: object, verdict: int) -> None:
    assert Policy().verdict(key) == verdict


def test_bytes_key_cut_before_decoding() -> None:
    assert Policy().verdict(b"a" * 256 + b"password") == PLAIN
    assert Policy().verdict(b"a" * 255 + b"_password") == PLAIN
    assert Policy().verdict(b"\xff_password") == SECRET


def test_extra_and_allowed_names() -> None:
    policy = redaction.from_setting(["pin", "account_number", "-token_count", "-session"])
    assert policy.enabled is True
    assert policy.extra == frozenset({"pin", "accountnumber"})
    assert policy.allowed == frozenset({"tokencount", "session"})
    verdicts = {
        key: policy.verdict(key)
        for key in ("pin", "user_pin", "pin_length", "bank_account_number", "accountNumber", "account")
    }
    assert verdicts == {
        "pin": SECRET,
        "user_pin": SECRET,
        "pin_length": SECRET,
        "bank_account_number": SECRET,
        "accountNumber": SECRET,
        "account": PLAIN,
    }
    assert policy.verdict("token_count") == PLAIN
    assert policy.verdict("tokenCount") == PLAIN
    assert policy.verdict("session") == PLAIN
    assert policy.verdict("session_id") == SECRET  # the stem "sessionid" is not removed by "-session"
    assert policy.verdict("token") == SECRET


def test_removed_word_and_stem() -> None:
    policy = redaction.from_setting(["-password"])
    assert policy.secret_words == (redaction.SECRET_WORDS | redaction.COOKIE_WORDS) - {"password"}
    assert "password" not in policy.stems
    assert len(policy.stems) == len(redaction.SECRET_STEMS) - 1
    assert [policy.verdict(k) for k in ("password", "dbpassword", "db_password", "passwd")] == [
        PLAIN,
        PLAIN,
        PLAIN,
        SECRET,
    ]


def test_cookie_words_can_be_removed() -> None:
    policy = redaction.from_setting(["-cookie"])
    assert [policy.verdict(k) for k in ("cookie", "set_cookie", "cookie_secret")] == [PLAIN, PLAIN, SECRET]
    assert redaction.from_setting(["-cookies"]).verdict("set_cookie") == COOKIE


def test_from_setting_none_and_empty() -> None:
    assert redaction.from_setting(["NONE"]).enabled is False
    assert redaction.from_setting(["None"]).verdict("password") == PLAIN
    both = redaction.from_setting(["none", "pin"])
    assert both.enabled is True
    assert both.extra == frozenset({"none", "pin"})
    assert both.verdict("none") == SECRET
    assert redaction.from_setting([]).verdict("password") == SECRET
    assert redaction.from_setting([]).extra == frozenset()
    assert redaction.from_setting(None).verdict("password") == SECRET
    assert redaction.from_setting(["-", "--"]).allowed == frozenset()
    assert redaction.from_setting(["__"]).extra == frozenset()


def test_disabled_policy_keeps_everything() -> None:
    policy = Policy(enabled=False)
    assert policy.verdict("password") == PLAIN
    assert policy.needs_mask("https://u:p@h password=x") is False
    assert policy.mask_text("password=x") == "password=x"


def test_current_follows_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "ssn")
    first = redaction.current()
    assert first.verdict("ssn") == SECRET
    assert redaction.current() is first
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "none")
    assert redaction.current().enabled is False
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS")
    policy = redaction.current()
    assert policy.enabled is True and policy.verdict("ssn") == PLAIN
    assert redaction.current() is policy


def test_verdict_cache() -> None:
    policy = Policy()
    assert policy.verdict("password") == SECRET
    assert list(policy._verdicts) == ["password"]
    key256 = "a" * 255 + "b"
    policy.verdict(key256)
    assert key256 in policy._verdicts
    policy.verdict("a" * 257)
    assert "a" * 257 not in policy._verdicts
    # Only exact str keys are kept: bytes, tuples, str subclasses and objects are judged and forgotten.
    assert policy.verdict(b"api_key") == SECRET
    assert policy.verdict(("api", "key")) == SECRET
    assert policy.verdict(("api", ["key"])) == PLAIN
    assert policy.verdict(("password", ["x"])) == SECRET

    class Key(str):
        pass

    assert policy.verdict(Key("token")) == SECRET
    assert policy.verdict(object()) == PLAIN
    assert set(policy._verdicts) == {"password", key256}
    assert policy.key_needs_mask("https://u:p@h") is True and policy.verdict("https://u:p@h") == PLAIN
    assert policy.key_needs_mask("plain") is False


def test_verdict_cache_is_bounded_and_never_cleared() -> None:
    policy = Policy()
    for number in range(4096):
        policy.verdict(f"k{number}")
    assert len(policy._verdicts) == 4096
    policy._verdicts["k0"] = SECRET  # a cached answer is used as it is
    assert policy.verdict("k0") == SECRET
    assert policy.verdict("one_more_token") == SECRET  # judged, not kept
    assert len(policy._verdicts) == 4096 and "one_more_token" not in policy._verdicts


def test_a_long_name_is_decoded_only_as_far_as_it_is_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name is judged on its first 256 characters, so it is decoded from at most 12 times as many (what encodes
    that many: ``%F0%9F%98%80`` is one): an SSM ``Name`` of 6 MB (``%41`` repeated) was decoded whole for one dict
    (0.6 s), past the value's scan budget."""
    decoded: list[int] = []
    unquote = urllib.parse.unquote
    monkeypatch.setattr(urllib.parse, "unquote", lambda text, *rest: decoded.append(len(text)) or unquote(text, *rest))
    assert capture_json._named_secret({"Name": "db%5Fpassword" + "%41" * 200_000, "Value": "v"}, POLICY) == "Value"
    assert capture_json._named_secret({"Name": "%41" * 200_000, "Value": "v"}, POLICY) is None
    assert POLICY.is_secret_name("-" * 1000 + "api%5Fkey" + "%41" * 1000)
    assert POLICY.is_secret_name("%F0%9F%98%80" * 248 + "%70assword" + "%41" * 100_000)  # to its 256th character
    assert not POLICY.is_secret_name("%F0%9F%98%80" * 249 + "%70assword" + "%41" * 100_000)  # to its 257th
    assert decoded and max(decoded) <= 12 * redaction.MAX_KEY_CHARS


def test_is_secret_name() -> None:
    policy = Policy()
    assert policy.is_secret_name("--password") is True
    assert policy.is_secret_name("api%5Fkey") is True
    assert policy.is_secret_name("%70assword") is True
    assert policy.is_secret_name("page") is False
    assert policy.is_secret_name("-") is False
    assert policy.is_secret_name("--max_tokens") is True  # COUNTS is not PLAIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:ab/cd@db.host:5432/app", f"postgresql://app:{R}@db.host:5432/app"),
        ("mysql+pymysql://app:x?y#z@h/db", f"mysql+pymysql://app:{R}@h/db"),
        ("redis://:pa/ss@h:6379/0", f"redis://:{R}@h:6379/0"),
        ("https://h:8080/@scope/pkg", None),  # a port, then a path holding ``@``
        ("https://h:443?to=a@b.com", None),
        ("https://medium.com/@ann", None),
        ('"u": "http://h:x", "e": "a@b"', None),
    ],
)
def test_url_passwords_holding_a_slash_or_question_mark_are_masked(text: str, expected: str | None) -> None:
    """Generated passwords hold ``/``, ``?`` and ``#`` (Secrets Manager's do), and a DSN built with an f-string keeps
    them as they are: SQLAlchemy reads ``postgresql://app:ab/cd@db/app`` as password ``ab/cd``. Such a URL was
    recorded whole; a port followed by a path is not a password."""
    assert Policy().mask_text(text) == (text if expected is None else expected)
    assert _meta({"database_url": text}) == {"database_url": text if expected is None else expected}


@pytest.mark.parametrize("ids", [3, 300])
def test_compact_json_quoting_a_url_and_an_address_is_no_url_credentials(ids: int) -> None:
    """JSON written without spaces (an API's error body quoted in an exception message) holding a URL with no path and,
    later, an e-mail address: no URL's authority holds a ``"``, yet from the URL's host to the ``@`` it was read as
    one and masked, the JSON between lost; since URL credentials are masked however long, at any distance."""
    body = json.dumps({"docs": "https://docs.example.com", "ids": list(range(ids)), "contact": "ann@example.com"})
    text = body.replace(", ", ",").replace(": ", ":")
    assert Policy().mask_text(text) == text
    assert redaction.exception_message(ValueError(f"rejected: {text}"), Policy()) == f"rejected: {text}"[:1000]


@pytest.mark.parametrize("password", ['p"w', '"', 'x9"', 'k"@z', 'a:b"c'])
def test_a_url_password_holding_a_quote_is_masked(password: str) -> None:
    """A generated password may hold ``"`` (Secrets Manager's default alphabet does), put into a DSN as it is and quoted
    in a message: masked as before a user part stopped holding ``"``, while compact JSON holding a URL (with or without
    a port) and, later, an address is still kept."""
    text = f"could not connect to postgres://ann:{password}@db.example.com/app"
    masked = f"could not connect to postgres://ann:{redaction.REDACTED}@db.example.com/app"
    assert Policy().mask_text(text) == masked
    assert redaction.exception_message(ValueError(text), Policy()) == masked
    for url in ("https://api.example.com", "https://api.example.com:8443"):
        body = f'{{"api":"{url}","ids":[1,2],"owner":"ann@example.com"}}'
        assert not Policy().needs_mask(body)
        assert Policy().mask_text(body) == body


@pytest.mark.parametrize(
    ("text", "needed"),
    [
        ("a=b", False),
        ("//", False),
        ("//u@h", True),
        ("u@h", False),
        ("xeyJx", True),
        ("a:b", False),
        ("2024-01-01T00:00:00Z https://example.com/a?b=c", False),
        ("'a', \"b\": 1", False),
        ("x -y", False),
        ("-----BEGIN", True),
        ("-----", False),
        ("Bearer", True),
        ("basic", True),
        ("BEARER", True),
        ("BASIC", True),
        ("<a>x</a>", False),
        ("<Password>", True),
        ("plain words only", False),
        ("", False),
        ("PASS", True),
        ("x-Api-Key", True),
        ("api%5Fkey", True),
        ("AKIA", True),
        ("ghp_", True),
        ("xoxb-", True),
        ("sk_live_", True),
        ("AIza", True),
        ("Asia/Tokyo, through the night, a global high", False),  # token prefixes are matched case-sensitively
        ("aiza akia eyj -----begin", False),
        # A response's JSON text (compact, as capture_json writes it) holding a URL without a path and, later, an
        # address: no URL credentials (no authority holds ``"``). Said to need a mask, the response took the general
        # converter on every invocation (7x the fast path's cost), since URL credentials are looked for at any length.
        ('{"site":"https://example.com","items":[' + "1," * 300 + '2],"owner":"ann@example.com"}', False),
        ('{"site":"https://example.com","owner":"ann@example.com"}', False),
        ('{"dsn":"//u:p@h"}', True),
    ],
)
def test_needs_mask(text: str, needed: bool) -> None:
    assert Policy().needs_mask(text) is needed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pw@host/x", f"https://user:{R}@host/x"),
        ("//user@host", f"//{R}@host"),
        ("see http://a:b@c.d and ftp://u@e", f"see http://a:{R}@c.d and ftp://{R}@e"),
        ("a.b//u@h", "a.b//u@h"),
        ("GET /x?api_key=abc&page=2", f"GET /x?api_key={R}&page=2"),
        ("a=1;password='x y';token=\"q\"", f"a=1;password='{R}';token=\"{R}\""),
        ("--password=hunter2 --name=bob", f"--password={R} --name=bob"),
        (",secret=2", f",secret={R}"),
        ("x=1,secret=2", f"x=1,secret={R}"),
        ("a[secret=2", f"a[secret={R}"),
        ("{secret=2", f"{{secret={R}"),
        ("#secret=2", f"#secret={R}"),
        ("a/password=2", f"a/password={R}"),
        ("ERROR:db:password=2", f"ERROR:db:password={R}"),
        ("run --password hunter2 -v", f"run --password {R} -v"),
        ("-p secret", "-p secret"),
        ("--token\tabc", f"--token\t{R}"),
        ("--token -abc", "--token -abc"),
        ("x--token abc", "x--token abc"),
        ('{"token": "abc", "name": "n"}', f'{{"token": "{R}", "name": "n"}}'),
        ("['--password', 's', 'x']", f"['--password', '{R}', 'x']"),
        ("{'key': ['v'], 'password': b'x'}", f"{{'key': ['v'], 'password': b'{R}'}}"),
        ('{"password": "a\\"b", "x": 1}', f'{{"password": "{R}", "x": 1}}'),
        ("'a', '--password', 's'", f"'a', '--password', '{R}'"),
        ('{"password": 12345, "count": 3}', f'{{"password": "{R}", "count": 3}}'),
        ("{'secret':-1.5e3}", f"{{'secret':'{R}'}}"),
        ("password: hunter2\nhost: x\n  secret : y", f"password: {R}\nhost: x\n  secret : {R}"),
        ("a\r\npassword:\tp", f"a\r\npassword:\t{R}"),
        ("x password: y", f"x password: {R}"),
        ("arn:aws:secretsmanager:us-east-1:1:secret:prod/db", "arn:aws:secretsmanager:us-east-1:1:secret:prod/db"),
        ("Authorization: Bearer abcdefgh", f"Authorization: {R}"),
        ("basic dXNlcjpwYXNz", f"basic {R}"),
        ("BEARER abcdefg12", f"BEARER {R}"),
        ("header bearer abcdef", f"header bearer {R}"),
        ("bearer abc", "bearer abc"),
        ("authorization=Token abcdefghij", f"authorization=Token {R}"),
        ("AUTHORIZATION=x abcdefghij", f"AUTHORIZATION={R} {R}"),
        ("tok eyJhbGciOi.eyJzdWIiOi.sig rest", f"tok {R} rest"),
        ("xeyJhbGciOi.eyJzdWIiOi.sig", "xeyJhbGciOi.eyJzdWIiOi.sig"),
        (
            "-----BEGIN RSA PRIVATE KEY-----abc\n-----END RSA PRIVATE KEY-----",
            f"-----BEGIN RSA PRIVATE KEY-----{R}-----END RSA PRIVATE KEY-----",
        ),
        ("<password>hunter2</password><name>bob</name>", f"<password>{R}</password><name>bob</name>"),
        ("<a>x</b>", "<a>x</b>"),
        ("inputValue=xyz", f"inputValue={R}"),
        ("api%5Fkey=zz", f"api%5Fkey={R}"),
        ("a=[REDACTED]", "a=[REDACTED]"),
        ("password=[REDACTED]", "password=[REDACTED]"),
        ("plain text", "plain text"),
        ("name=value", "name=value"),
        ("?pwd=1", f"?pwd={R}"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert Policy().mask_text(text) == expected


def test_mask_text_uses_the_policy() -> None:
    policy = redaction.from_setting(["pin", "-password"])
    assert policy.mask_text("pin=1&password=2") == f"pin={R}&password=2"
    assert policy.mask_text("--pin 1234 --password x") == f"--pin {R} --password x"
    assert policy.mask_text('{"pin": "1", "password": "2"}') == f'{{"pin": "{R}", "password": "2"}}'
    assert policy.mask_text('{"pin": 1, "password": 2}') == f'{{"pin": "{R}", "password": 2}}'
    assert policy.mask_text("pin: 1\npassword: 2") == f"pin: {R}\npassword: 2"
    assert policy.mask_text("<pin>1</pin><password>2</password>") == f"<pin>{R}</pin><password>2</password>"


@pytest.mark.parametrize(
    ("value", "cookie", "query"),
    [
        ("s=1; Path=/", [f"s={R}; Path=/"], [f"s={R}"]),
        (["a=1", "b=2"], [[f"a={R}", f"b={R}"]], [[f"a={R}", f"b={R}"]]),
        (("a=1",), [[f"a={R}"]], [[f"a={R}"]]),
        ([], [[]], [[]]),
        (["a=1", 3], [R], [R]),
        ({"k": 1, 2: 3}, [{"k": R, "2": R}], [{"k": R, "2": R}]),
        (5, [R], [R]),
        (None, [R], [R]),
    ],
)
def test_mask_under(value: Any, cookie: list[Any], query: list[Any]) -> None:
    policy = Policy()
    assert [policy.mask_under(COOKIE, value, 100)] == cookie
    assert [policy.mask_under(QUERY, value, 100)] == query


def test_mask_under_cuts() -> None:
    policy = Policy()
    assert policy.mask_under(QUERY, "a=1&b=2", 5) == f"a={R}&{R}"
    assert policy.mask_under(COOKIE, ["abc=1", "d=22"], 3) == [R, f"d={R}"]
    masked = policy.mask_under(COOKIE, {"x" * 300: 1}, 10)
    assert masked == {"x" * 256: R}
    many = policy.mask_under(QUERY, {str(n): n for n in range(1001)}, 10)
    assert len(many) == 1000 and "1000" not in many
    items = policy.mask_under(QUERY, ["a=1"] * 1001, 10)
    assert items == [f"a={R}"] * 1000
    mixed = policy.mask_under(QUERY, ["a=1"] * 1000 + [5], 10)
    assert mixed == [f"a={R}"] * 1000


def test_more_text_masks() -> None:
    policy = Policy()
    assert policy.mask_text("https://u:p:q@h") == f"https://u:{R}@h"  # the user is up to the first colon
    assert (
        policy.mask_text('{"password": "a", "x": 1, "token": "b"}') == f'{{"password": "{R}", "x": 1, "token": "{R}"}}'
    )
    # A second secret value that starts where the first one ends (its opening quote inside the first value).
    # Names inside a masked value are not looked at again (masking stays linear): the crafted tail stays.
    assert policy.mask_text('\'password\': \'a", "token": "\'b"') == f"'password': '{R}'b\""
    assert policy.mask_text("x-----BEGIN EC PRIVATE KEY-----abc") == f"x-----BEGIN EC PRIVATE KEY-----{R}"
    assert policy.mask_text("BASIC dXNlcjpwYXNz") == f"BASIC {R}"
    assert policy.needs_mask("x-----") is False


def test_secret_names_strip_leading_dashes_only() -> None:
    policy = Policy()
    assert policy.is_secret_name("-" * 250 + "password") is True  # judged on the name, not on 256 dashes
    assert policy.is_secret_name("Xsid") is False
    assert policy.is_secret_name("--Xsid") is False
    assert policy.is_secret_name("password-") is True


def test_query_and_allowed_multi_word_keys() -> None:
    policy = Policy()
    assert policy.verdict("x_query_params") == QUERY
    assert policy.verdict("query_params_x") == PLAIN
    assert redaction.from_setting(["-api_key"]).verdict("my_api_key") == PLAIN  # the stem "apikey" is dropped
    assert redaction.from_setting(["-api_key"]).stems == tuple(s for s in redaction.SECRET_STEMS if s != "apikey")


_LONG = "a" * (redaction_text.MAX_VALUE_CHARS + 100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # botocore's validation messages name the parameter, then quote its value.
        (
            "Invalid type for parameter SecretString, value: abc123, type: <class 'int'>, valid types: <class 'str'>",
            f"Invalid type for parameter SecretString, value: {R}, type: <class 'int'>, valid types: <class 'str'>",
        ),
        (
            "Invalid length for parameter Credentials.SecretAccessKey, value: 3, valid min length: 16",
            f"Invalid length for parameter Credentials.SecretAccessKey, value: {R}, valid min length: 16",
        ),
        (
            "Invalid type for parameter Items[0].password, value: {'a': 1}, type: <class 'dict'>",
            f"Invalid type for parameter Items[0].password, value: {R}, type: <class 'dict'>",
        ),
        ("parameter [password]., value: xyz, type: t", f"parameter [password]., value: {R}, type: t"),
        ("parameter password, value: hunter2\nnext password2", f"parameter password, value: {R}\nnext password2"),
        ("parameter InputValue, value: xyz", f"parameter InputValue, value: {R}"),  # always masked
        ("Invalid type for parameter Bucket, value: b, type: <class 'int'>", None),
        ("parameter Tags[1].Value, value: xyz, type: t", None),
        ("parameter token, value: " + _LONG, f"parameter token, value: {R}" + "a" * 100),  # at most MAX_VALUE_CHARS
        # YAML: a name alone on its line, its value on the indented lines below (block scalars too).
        ("db:\n  password: |\n    line1\n    line2\n  user: bob\n", f"db:\n  password: {R}\n  user: bob\n"),
        ("db:\n  password:\n   hunter2\n  user: bob\n", f"db:\n  password:{R}\n  user: bob\n"),
        ("x: 1\npassword:\n hunter2\nuser: bob", f"x: 1\npassword:{R}\nuser: bob"),
        ("x: 1\rpassword:\r hunter2\ruser: bob", f"x: 1\rpassword:{R}"),  # lines end at "\n" only: the rest
        ("password:\n  - a\n  - b\nuser: bob", f"password:{R}\nuser: bob"),
        ("- password: >\n    folded\n  other: x", f"- password: {R}\n  other: x"),
        ("- password:\n  x\n", "- password:\n  x\n"),  # the list item's dash is indentation: x is not its value
        ("password:\n\n  after-blank\nkept: 1", f"password:{R}\nkept: 1"),
        ("password:\n  last", f"password:{R}"),
        ("password:", "password:"),
        ("password:\nkept: 1", "password:\nkept: 1"),
        ("  password:\n\tdeep\n  kept: 1", "  password:\n\tdeep\n  kept: 1"),  # a tab is one column
        ("password:\n" + "  x\n" * 30_000, f"password:{R}" + "\n  x" * 13_616 + "\n"),  # MAX_VALUE_CHARS
        # XML: the element's content, CDATA whole, elements named by a key/name attribute too.
        ("<password>hunter2</password>", f"<password>{R}</password>"),
        (
            '<wsse:Password Type="PasswordText">hunter2</wsse:Password>',
            f'<wsse:Password Type="PasswordText">{R}</wsse:Password>',
        ),
        ("<password><![CDATA[a<b]]></password>", f"<password>{R}</password>"),
        ("<password><![CDATA[a<b]]>tail", f"<password>{R}tail"),
        ("<password><![CDATA[unterminated", f"<password>{R}"),
        ('<entry key="password">hunter2</entry>', f'<entry key="password">{R}</entry>'),
        ("<param name='api_key' >k1</param>", f"<param name='api_key' >{R}</param>"),
        ('<entry key="color">blue</entry>', None),
        ("<password></password>", None),
        (f"<password>{R}</password>", None),
        ("<password>" + _LONG, f"<password>{R}" + "a" * 100),
        ("<user>bob</user><Password>x</Password>", f"<user>bob</user><Password>{R}</Password>"),
        ('<password attr="1">x', f'<password attr="1">{R}'),
        # Authorization schemes: the credential after Bearer always; after Basic when it looks like one.
        ("basic information here", None),
        ("Basic dXNlcjpwYXNz", f"Basic {R}"),
        ("Basic abcdefgh", None),
        ("basic aBcdefgh", f"basic {R}"),
        ("basic a1cdefgh", f"basic {R}"),
        ("basic abcd+fgh", f"basic {R}"),
        ("basic abcdefg=", f"basic {R}"),
        ("basic Abcdefgh", None),  # only the first character is a capital
        ("bearer short", None),
        ("BEARER abcdefgh", f"BEARER {R}"),
        ("say bearer\tabcdefgh", f"say bearer\t{R}"),
        ("authorization = tok abcdef1", f"authorization = {R}"),
        # Where a line starts: indentation, a YAML dash, `export`, within 256 characters.
        ("  - export password=abc", f"  - export password={R}"),
        ("-  password: x y", f"-  password: {R}"),
        ("x password: y z", f"x password: {R} z"),
        (" " * 300 + "password: x y", " " * 300 + f"password: {R} y"),
        (" " * 254 + "password: x y", " " * 254 + f"password: {R}"),
        ("\tpassword: a b\n", f"\tpassword: {R}\n"),
        # A bracketed value runs to its closing bracket; brackets inside quotes (escaped quotes too) do not count.
        ("password=[1, [2, 3], 4] tail", f"password={R} tail"),
        ("password=(a, 'x)', \"y]\") tail", f"password={R} tail"),
        ("password={'a': '}\\'', 'b': 2} tail", f"password={R} tail"),
        ("{'password': ['a', 'b'], 'x': 1}", f"{{'password': '{R}', 'x': 1}}"),
        ("password=SecretStr('abc') tail", f"password={R} tail"),
        ("password=bytearray(b'a)b') tail", f"password={R} tail"),
        ("password=[unclosed tail", f"password={R}"),
        ("password=['a\\'] b'] tail", f"password={R} tail"),
        ('password=["a\\"]"] tail', f"password={R} tail"),
        ('password=["a\\\\"] tail', f"password={R} tail"),
        ("password=[[[]]] tail", f"password={R} tail"),
        ("password=[] tail", f"password={R} tail"),
        ("password=[(]) tail", f"password={R} tail"),
        ("password=[" + _LONG, f"password={R}" + "a" * 101),
        ("password=[" + _LONG + "]", f"password={R}" + "a" * 101 + "]"),  # nothing is looked at past the limit
        ("password=[a\\", f"password={R}"),
        ("password=[a\\\\]b] tail", f"password={R} tail"),  # an escaped backslash, then an escaped bracket
        # The value of a botocore parameter is judged on the parameter's last name.
        ("parameter Password.Id, value: v, type: t", None),
        ("parameter Password.X, value: v, type: t", None),
        ("parameter X.Password, value: v, type: t", f"parameter X.Password, value: {R}, type: t"),
        (f"{R}<password>x</password>", f"{R}<password>{R}</password>"),
        # Where the line of a YAML name starts: after the last line break, any of them.
        ("a\nb\npassword: x y", f"a\nb\n{'password'}: {R}"),
        ("a\rb\rpassword: x y", f"a\rb\r{'password'}: {R}"),
        ("\npassword: x y", f"\npassword: {R}"),
        ("\rpassword: x y", f"\rpassword: {R}"),
        ("a" * 300 + "\npassword: x y", "a" * 300 + f"\npassword: {R}"),
        (" " * 255 + "password: x y", " " * 255 + f"password: {R}"),
        (" " * 256 + "password: x y", " " * 256 + f"password: {R} y"),
        ("\n  password:\n   x\n  k: v", f"\n  password:{R}\n  k: v"),
        ("a\nb\n  password:\n   x\n  k: v", f"a\nb\n  password:{R}\n  k: v"),
        ("\r  password:\n   x\n  k: v", f"\r  password:{R}\n  k: v"),
        ("a\rb\r  password:\n   x\n  k: v", f"a\rb\r  password:{R}\n  k: v"),
        ("  password: |\r\n    x\r\n  k: v", f"  password: {R}\n  k: v"),
        # Where a value starts and what it is: nothing, already masked, a prefixed string, a bare word.
        ("x password=", None),
        (f"{R} password=abc", f"{R} password={R}"),
        ("password=X'abc' tail", f"password={R} tail"),
        ("password=B'abc' tail", f"password=B'{R}' tail"),
        ('password=b"abc" tail', f'password=b"{R}" tail'),
        ("password=XabcX tail", f"password={R} tail"),
        ('{\\"password\\": \\abc, \\"x\\": 1}', f'{{\\"password\\": \\"{R}\\", \\"x\\": 1}}'),
        ('\\"password\\": \\Xa, b', f'\\"password\\": \\"{R}\\", b'),
        ("a\rpassword: x y\rb: 1", f"a\rpassword: {R}\rb: 1"),
        ("password: null  ", None),  # spaces around null, true or a count do not make it a secret
        ("password: null'", None),
        ("--max_tokens=5", None),
        # A name right after ":", "/" or "@" is part of an ARN, a path or an address, not a name.
        ("see /secret: done", None),
        ("user@password: x", None),
        ("arn:aws:secretsmanager:us-east-1:1:secret:prod", None),
        # Pairs in reprs: a list or tuple pair, any string prefix; a secret name with a number after it is not one.
        ("['api_key', 'abc']", f"['api_key', '{R}']"),
        ("('password', B'abc')", f"('password', B'{R}')"),
        ("('password', X'abc')", None),
        ("('password', b\"abc\")", f"('password', b\"{R}\")"),
        ("('password', rb'x')", f"('password', rb'{R}')"),
        ("password=Rb'a b' tail", f"password=Rb'{R}' tail"),
        ("password=bb tail", f"password={R} tail"),
        ("'password', 5, ('token', 'abc')", f"'password', 5, ('token', '{R}')"),
        ("Xpw=abc tail", None),
        ("-pw=abc tail", f"-pw={R} tail"),
        # Connection strings: a value runs to the next ";" after "=", to the next space after ":".
        ("Server=x;Password=a b;Database=d", f"Server=x;Password={R};Database=d"),
        ("x password: a b; c", f"x password: {R} b; c"),
        ("x 'password'='a b'; c", f"x 'password'='{R}'; c"),
        # An authorization scheme in the middle of a text keeps its name; a credential too short or odd for the
        # token pattern is masked as the scheme's value.
        ("x Authorization: Token ab:cd ok", f"x Authorization: Token {R} ok"),
        ("x Authorization: Token ab", f"x Authorization: Token {R}"),
        (f"x Authorization: Token {R} ok", None),
        ("x Authorization: Token  ok", None),
        ("x password=Bearer ab:cd ok", f"x password=Bearer {R} ok"),
        ("x password=abc\ndef ghi", f"x password={R}\ndef ghi"),  # a bare value ends at its line's end
        ("password=SecretStr('a\\\\') tail", f"password={R} tail"),
        ("password=rB'x' tail", f"password=rB'{R}' tail"),
        ("password=Br'x' tail", f"password=Br'{R}' tail"),
        ("password=bR'x' tail", f"password=bR'{R}' tail"),
        ("password=BR'x' tail", f"password=BR'{R}' tail"),
        # Counts under a ...tokens name are kept; anything else under it is masked.
        ("max_tokens=5", None),
        ("max_tokens: 5.5", None),
        ("max_tokens=-1e3", None),
        ("max_tokens=abc", f"max_tokens={R}"),
        ("access_token=123", f"access_token={R}"),
        ("password=null", None),
        ("password='None'", None),
        # Triple-quoted strings (TOML, Python): to the closing three quotes, not an empty string and a quote.
        ('password = """abc"""\nx = 1', f'password = """{R}"""\nx = 1'),
        ("PASSWORD = '''\nabc\n'''", f"PASSWORD = '''{R}'''"),
        ('{"token": """a " b"""}', f'{{"token": """{R}"""}}'),
        ('password = r"""abc', f'password = r"""{R}'),
        ('password = """"""', None),
        ('password = "", x = """y"""', None),
    ],
)
def test_text_forms_exactly(text: str, expected: str | None) -> None:
    assert Policy().mask_text(text) == (text if expected is None else expected)


_NESTED_VALUES = [
    {"password": 12, "a": [1]},
    {"password": ['a"]\\', 1, "'"], "b": 1},
    {"password": {"x": ')\\\\"'}, "c": 2},
    {"password": "x\\", "d": "e"},
    {"password": 'x\\"', "d": "e"},
    [{"Key": "token", "Value": 12}, {"Key": "token", "Value": [1, {"a": "2]"}]}, {"Key": "x", "Value": 3}],
    [{"name": "DB_PASSWORD", "value": None}, {"name": "api_key", "value": True}, {"name": "secret", "value": {}}],
    {"password": "", "e": "f"},
    {"password": "\\\\", "e": "f"},
    {"password": '\\"\\"', "e": "f", "token": "it's"},
    {"password": '"', "e": '"', "token": "\\"},
]


@pytest.mark.parametrize("levels", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("value", _NESTED_VALUES)
def test_json_in_json_stays_json_at_every_level(value: Any, levels: int) -> None:
    """Masking JSON held in JSON (held in JSON...) as text keeps it parseable, each secret masked whole."""
    import json

    text = json.dumps(value)
    for _ in range(levels):
        text = json.dumps(text)
    masked: Any = Policy().mask_text(text)
    for _ in range(levels + 1):
        masked = json.loads(masked)
    expected = json.loads(json.dumps(value))
    if isinstance(expected, dict):
        expected.update((key, R) for key, item in expected.items() if key in ("password", "token") and item != "")
    else:
        for pair in expected:
            pair_value = pair.get("Value", pair.get("value"))
            if pair.get("Key", pair.get("name")) != "x" and pair_value not in (None, True):
                pair["Value" if "Value" in pair else "value"] = R
    assert masked == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "COLOR", "value": "blue"}]',
            f'[{{"name": "DB_PASSWORD", "value": "{R}"}}, {{"name": "COLOR", "value": "blue"}}]',
        ),
        (
            "[{'name': 'DB_PASSWORD', 'value': 'hunter2'}, {'name': 'COLOR', 'value': 'blue'}]",
            f"[{{'name': 'DB_PASSWORD', 'value': '{R}'}}, {{'name': 'COLOR', 'value': 'blue'}}]",
        ),
        (
            '{"Name": "/prod/db/password", "Value": "hunter2", "Type": "String"}',
            f'{{"Name": "/prod/db/password", "Value": "{R}", "Type": "String"}}',
        ),
        ('{"Name": "/prod/db/host", "Value": "h", "Type": "SecureString"}', None),  # the type comes after
        ('{"Type": "SecureString", "Value": "s3cr3t"}', f'{{"Type": "SecureString", "Value": "{R}"}}'),
        (
            '{"ParameterKey": "DbPassword", "ParameterValue": "pw"}',
            f'{{"ParameterKey": "DbPassword", "ParameterValue": "{R}"}}',
        ),
        ('{"OptionName": "API_KEY", "Value": "k"}', f'{{"OptionName": "API_KEY", "Value": "{R}"}}'),
        ('{"Key": "token", "Value": null}', None),
        ('{"Key": "token", "Value": 12}', f'{{"Key": "token", "Value": "{R}"}}'),
        ('{"Key": "token", "Value": abc, "x": 1}', f'{{"Key": "token", "Value": "{R}", "x": 1}}'),
        ("{'Key': 'token', 'Value': None}", None),
        (f'{{"Key": "token", "Value": "{R}"}}', None),
        ('<add key="ApiKey" value="k1"/>', f'<add key="ApiKey" value="{R}"/>'),
        ("<add name='Password' value='p'/>", f"<add name='Password' value='{R}'/>"),
        ("<add name='color' value='c'/>", None),
        (
            "- name: DB_PASSWORD\n  value: hunter2\n- name: X\n  value: y",
            f"- name: DB_PASSWORD\n  value: {R}\n- name: X\n  value: y",
        ),
        ('name: "API_KEY"\n  - value: abc', f'name: "API_KEY"\n  - value: {R}'),
        ("env:\n- name: secret/\n  value: v", f"env:\n- name: secret/\n  value: {R}"),
        ("x-name: password\nvalue: v", None),
        ('{"Name": "/password/host", "Value": "v"}', None),  # judged on the last part of a path
        ('{"Name": "/token/X", "Value": "v"}', None),
        ('{"Name": "/host/token/", "Value": "v"}', f'{{"Name": "/host/token/", "Value": "{R}"}}'),
        ("- name: password\n  value: a b;c", f"- name: password\n  value: {R} b;c"),
        ('password="' + _LONG + '" tail', f'password="{R}' + "a" * 101 + '" tail'),  # at most MAX_VALUE_CHARS
    ],
)
def test_name_value_pairs_exactly(text: str, expected: str | None) -> None:
    assert Policy().mask_text(text) == (text if expected is None else expected)


def test_url_queries_are_left_alone_when_redaction_is_off() -> None:
    url = "GET https://h/p?token=abc&x=1 failed"
    assert redaction.from_setting(["none"]).mask_message(url, 100) == url
    assert Policy().mask_message(url, 100) == f"GET https://h/p?token={R}&x={R} failed"
    assert Policy().mask_message("what? no", 100) == "what? no"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("mysql://app:p?w-1@db/app", f"mysql://app:{R}@db/app"),
        ("https://app:p#w-1@h/x?token=t-1", f"https://app:{R}@h/x?token={R}"),
        ("https://app:p?w-1@h/x?q=1", f"https://app:{R}@h/x?q={R}"),
    ],
)
def test_a_message_quoting_a_url_whose_password_holds_a_question_mark_keeps_none_of_it(url: str, masked: str) -> None:
    """An exception's message quoting a DSN whose generated password holds ``?`` (unencoded): the credentials are
    masked as in any text, then the query values. The query was masked first, from the password's ``?`` on: the
    ``@`` was gone, and the user and the password's start (``p``) were kept."""
    assert Policy().mask_message(f"cannot connect to {url} now", 1000) == f"cannot connect to {masked} now"


def test_a_url_path_quoted_without_its_host_has_every_query_value_masked() -> None:
    # urllib3 (under requests) quotes the request's path and query alone: ``Max retries exceeded with url: /x?…``.
    message = "HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: /v1/find?q=shoes&key=k-1 (Caused)"
    assert Policy().mask_message(message, 1000) == message.replace("q=shoes&key=k-1", f"q={R}&key={R}")
    assert Policy().mask_message("GET /p?code=c-1", 100) == f"GET /p?code={R}"
    assert Policy().mask_message("url='/p?code=c-1'", 100) == f"url='/p?code={R}'"
    assert Policy().mask_message("a/b?c and 1/2? no", 100) == "a/b?c and 1/2? no"  # not a path of its own
    assert redaction.from_setting(["none"]).mask_message("GET /p?code=c-1", 100) == "GET /p?code=c-1"


def test_an_error_attribute_holding_a_url_has_every_query_value_masked() -> None:
    import urllib3

    error = urllib3.exceptions.MaxRetryError(None, "/v1/find?q=shoes&key=" + S, None)  # type: ignore[arg-type]
    info = capture_convert.error_metadata(error, POLICY, 16 * 1024)
    assert S not in _text(info), info
    assert info["attributes"]["url"] == f"/v1/find?q={R}&key={R}"
    full = urllib.error.HTTPError("https://h/v1/find?code=" + S, 401, "Unauthorized", {}, None)  # type: ignore[arg-type]
    assert S not in _text(capture_convert.error_metadata(full, POLICY, 16 * 1024))


def test_allowed_keys_are_matched_on_their_joined_words() -> None:
    assert redaction.from_setting(["-token_count"]).verdict("token_count") == PLAIN
    assert redaction.from_setting(["-token_count"]).verdict("Token-Count") == PLAIN
    assert redaction.from_setting(["-api_key"]).verdict("API-Key") == PLAIN
    assert Policy().verdict("API-Key") == SECRET


def test_a_string_cut_after_masking_its_window_is_marked_cut() -> None:

    converter = capture_convert._Converter(Policy(), 100)
    assert converter.convert("password=" + "a" * 5000) == f"password={R}"
    assert converter.cut is True  # the text past the masked window is not in the record


def test_secret_stems_are_found_across_words_left_out() -> None:
    assert Policy().verdict("tokenizer_api_key") == SECRET  # "tokenizer" is not a secret word; "apikey" is
    assert Policy().verdict("tokenizer_name") == PLAIN


def test_botocore_messages_and_pairs_in_one_text() -> None:
    text = "parameter password, value: x, type: t and token=abc"
    assert Policy().mask_text(text) == f"parameter password, value: {R}, type: t and token={R}"


ALPHABET = 'abcdefABCDEF0123456789,"\\:%_-. ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ@/{}[]\n\t'


EXTRA_NEEDLES = ["pin", "ssn", "account", "ab", "x9", "cred", "CrEd", "p1ss", "created", "aref"]


def plain_needs_mask(policy: Policy, text: str) -> bool:
    """``needs_mask`` as it was before the prefilter: every needle searched in the whole text."""
    return policy.enabled and (
        any(needle in text.lower() for needle in policy._needles)
        or any(needle in text for needle in redaction._FORM_NEEDLES)
        or ("@" in text and redaction_text.compiled(redaction_text._USERINFO_GATE).search(text) is not None)
    )


def records(rng: random.Random, count: int) -> str:
    """JSON like an API's: ids, times and URLs, which the sketch reads alike."""
    items = [
        {
            "id": f"{rng.getrandbits(128):032x}",
            "createdAt": f"2026-{rng.randint(1, 12):02d}-01T{rng.randint(0, 23):02d}:00:00.000Z",
            "url": f"https://api.example.com/v1/orders/{rng.getrandbits(64):016x}",
            "status": rng.choice(["paid", "ordered", "delivered", "Credited", "secretary"]),
        }
        for _ in range(count)
    ]
    return json.dumps({"statusCode": 200, "body": json.dumps({"items": items})}, separators=(",", ":"))


def texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    needles = [*redaction._NEEDLES, *redaction._FORM_NEEDLES, *EXTRA_NEEDLES]
    made = []
    for _ in range(count):
        if rng.random() < 0.6:
            text = records(rng, rng.randint(0, 12))
        else:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 600)))
        for _ in range(rng.randint(0, 2)):
            needle = rng.choice(needles)
            needle = "".join(c.upper() if rng.random() < 0.4 else c for c in needle)
            at = rng.randint(0, len(text))
            text = text[:at] + needle + text[at:]
        made.append(text)
    return made


@pytest.mark.parametrize(
    "policy",
    [Policy(), from_setting(["pin", "ssn", "account_number", "ab", "x9"]), from_setting(["-token_count"])],
    ids=["default", "extra names", "allowed key"],
)
def test_needs_mask_is_the_plain_search(policy: Policy) -> None:
    found = 0
    for text in texts(18, 1500):
        expected = plain_needs_mask(policy, text)
        assert policy.needs_mask(text) is expected, text
        found += expected
    assert 0 < found < 1500  # both answers were exercised
    assert policy._clean  # and pieces were remembered, then reused


#: Words that read alike in a sketch (``aref`` and ``cred`` read ``#r##``, ``eve`` and ``cvc`` ``#v#``), weak needles
#: of the policies below in their spellings, and what records and pieces are cut at.
ALIKE = [
    "aref", "cred", "crEd", "CRED", "cRed", "ave", "1v2", "eve", "evE", "cvc", "CVC", "cVc", "created", "event", "a",
    "x", "X", "q", "cc", "CC", "cC", "a1", "A1", "1a", "1A", "b2c", "B2C", "e", "E", "fd", "FD", "dd", "zz9", "4",
    "%", "\\u", "eyJ", "#", "{", '"', ":",
]  # fmt: skip
CUTS = [",", "},", "}", ", ", "},{", " ", ""]


class _Text(str):
    """A str subclass: never answered from the memo of whole texts, so its pieces are looked up each time."""


@pytest.mark.parametrize("seed", range(8))
def test_needs_mask_is_the_plain_search_over_texts_that_read_alike(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh policies (weak extra names: ``cc`` reads ``##``, ``x`` is one letter) over short runs of texts whose
    pieces read like each other's, with small memo bounds: each weak needle is gated, then found in a text whose
    pieces were all remembered clean."""
    monkeypatch.setattr(redaction, "_CLEAN_CHARS", 300)
    monkeypatch.setattr(redaction, "_CLEAN_PIECE_CHARS", 6)
    rng = random.Random(seed)
    settings = [None, ["pin"], ["cc", "a1", "x", "4", "ab"], ["1a", "b2c", "e"], ["-token_count", "zz9"], ["fd", "dd"]]
    for _ in range(60):
        policy = from_setting(rng.choice(settings))
        for _ in range(rng.randint(1, 40)):
            text = "".join(rng.choice(ALIKE) + rng.choice(CUTS) for _ in range(rng.randint(1, 10)))
            if rng.random() < 0.3:
                text = _Text(text)
            assert policy.needs_mask(text) is plain_needs_mask(policy, text), (text, policy._ungated)


def test_texts_found_clean_are_remembered_whole_and_only_those() -> None:
    policy = Policy()
    made = texts(19, 400)
    for text in made + made:  # the second pass answers the short clean ones from the memo
        assert policy.needs_mask(text) is plain_needs_mask(policy, text), text
    remembered = policy._clean_texts
    assert remembered and all(not plain_needs_mask(policy, text) for text in remembered)
    assert all(len(text) <= redaction._CLEAN_TEXT_CHARS for text in remembered)
    assert policy.needs_mask("x" * redaction._CLEAN_TEXT_CHARS) is False
    assert "x" * redaction._CLEAN_TEXT_CHARS in remembered
    assert policy.needs_mask("x" * (redaction._CLEAN_TEXT_CHARS + 1)) is False
    assert "x" * (redaction._CLEAN_TEXT_CHARS + 1) not in remembered
    assert policy.needs_mask("mail me@example.com") is False and "mail me@example.com" in remembered
    assert policy.needs_mask("https://user:pw@example.com") is True and "https://user:pw@example.com" not in remembered
    off = Policy(enabled=False)
    assert off.needs_mask("password") is False and not off._clean_texts


def test_only_exact_strings_are_remembered_clean_or_answered_from_memory() -> None:
    """A str subclass decides its own equality and hash: it never goes into the memo, and the memo never answers
    for one (a subclass equal to a remembered clean text could otherwise pass a secret as clean)."""

    class Folded(str):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, str) and self.lower() == other.lower()

        def __hash__(self) -> int:
            return hash(self.lower())

    class EqualToAll(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash("plain words")

    policy = Policy()
    assert policy.needs_mask(Folded("Plain Words")) is False
    assert not policy._clean_texts
    assert policy.needs_mask("plain words") is False and "plain words" in policy._clean_texts
    assert policy.needs_mask(EqualToAll("password=hunter2")) is True


def test_remembered_texts_are_bounded() -> None:
    policy = Policy()
    for index in range(redaction._CLEAN_TEXTS + 50):
        assert policy.needs_mask(f"plain text number {index}") is False
    assert len(policy._clean_texts) == redaction._CLEAN_TEXTS
    assert "plain text number 0" in policy._clean_texts
    assert f"plain text number {redaction._CLEAN_TEXTS}" not in policy._clean_texts


def test_a_needle_in_remembered_pieces_is_still_found() -> None:
    policy = Policy()
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"p1ss"}') is False
    # Every piece of these texts but the needle's own reads like one already seen.
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"pass"}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"cred","note":"p1ss"}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"a1b2","note":"p1ss","%":1}') is True
    assert policy.needs_mask('{"orderedAt":"2026-01-01","ref":"AKIA","note":"p1ss"}') is True
    # ``cred`` reads ``#r##`` in a sketch, as ``created`` does: each of its spellings is still found.
    assert policy.needs_mask('{"createdAt":"2026-01-01","ref":"a1b2","note":"p1ss"}') is False
    for spelling in ("cred", "Cred", "cRed", "crEd", "creD", "CRED", "cREd", "CrEd"):
        assert policy.needs_mask(f'{{"createdAt":"2026-01-01","ref":"{spelling}","note":"p1ss"}}') is True


def test_a_weak_needle_is_searched_in_the_text_once_its_image_is_in_a_remembered_piece() -> None:
    """``cvc`` reads ``#v#`` in a folded sketch: it is searched in the text only when a new piece reads so, until a
    piece reading so is remembered clean; from then on in every text."""
    policy = Policy()
    assert policy.needs_mask('{"id":"a1b2","ref":"x"}') is False
    assert "cvc" not in policy._ungated  # not searched in the text: no piece reads #v#
    assert policy.needs_mask('{"id":"a1b2","ref":"cvc"}') is True  # its image is in a new piece
    assert policy.needs_mask('{"id":"a1b2","ref":"CvC"}') is True  # a capital, through the sketch
    assert policy.needs_mask('{"id":"a1b2","kind":"event"}') is False  # #v# remembered clean
    assert "cvc" in policy._ungated and "cvc" in policy._sketch[2]  # type: ignore[index]  # searched first
    # Every piece of this text reads like a remembered one: only the search in the text finds it.
    assert policy.needs_mask('{"id":"a1b2","kind":"cvcnt"}') is True
    assert policy.needs_mask('{"id":"a1b2","kind":"event"}') is False


@pytest.mark.parametrize("lookup", [1, 2], ids=["records", "pieces"])
def test_a_weak_needle_is_found_when_another_thread_remembers_its_image_meanwhile(lookup: int) -> None:
    """Another thread finds ``aref`` clean (it reads ``#r##``, as ``cred`` does) while this one looks its records
    (or pieces) up among those remembered clean: ``cred`` is still found. The memo runs the other thread, to its end,
    when it is looked up (``set.difference`` iterates an argument that is not a set), as a thread switch would."""
    others: list[bool] = []

    class Memo:
        """The pieces remembered clean; the ``lookup``-th lookup first lets the other thread run."""

        def __init__(self) -> None:
            self.pieces: set[bytes] = set()
            self.lookups = 0

        def add(self, piece: bytes) -> None:
            self.pieces.add(piece)

        def __bool__(self) -> bool:
            return bool(self.pieces)

        def __iter__(self) -> Iterator[bytes]:
            self.lookups += 1
            if self.lookups == lookup:
                other = threading.Thread(target=lambda: others.append(policy.needs_mask("aref,x")))
                other.start()
                other.join()
            return iter(list(self.pieces))

    policy = Policy()
    memo = Memo()
    policy._clean = memo  # type: ignore[assignment]
    assert policy.needs_mask("cred,x") is True
    assert others == [False] and b"#r##" in memo.pieces  # the other text was found clean, its pieces remembered
    assert policy.needs_mask("cred,y") is True and policy.needs_mask("cred,x") is True


def test_non_ascii_texts_take_the_plain_search() -> None:
    policy = Policy()
    assert policy.needs_mask("\u212aey=1, caf\u00e9") is True  # the Kelvin sign lower-cases to k
    assert policy.needs_mask("caf\u00e9, na\u00efve") is False
    assert not policy._clean


def test_remembered_pieces_are_bounded() -> None:
    policy = Policy()
    rng = random.Random(7)
    for _ in range(600):
        policy.needs_mask(",".join("".join(rng.choice("ghlmrvwz") for _ in range(12)) for _ in range(50)))
        policy.needs_mask("x" * 5000)
    assert redaction._CLEAN_CHARS <= sum(len(piece) + 1 for piece in policy._clean) < redaction._CLEAN_CHARS + 1100
    assert all(len(piece) <= redaction._CLEAN_PIECE_CHARS for piece in policy._clean)


# -- payment card secrets and one-time codes; curl's -u -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"number": "4242", "cvv": "123"}', f'{{"number": "4242", "cvv": "{R}"}}'),
        ('{"card": {"cvc": 123}}', f'{{"card": {{"cvc": "{R}"}}}}'),
        ("card[number]=4242&card[cvc]=123&card[exp_month]=12", f"card[number]=4242&card[cvc]={R}&card[exp_month]=12"),
        ("CVV2: 123", f"CVV2: {R}"),
        ('{"otp": "123456"}', f'{{"otp": "{R}"}}'),
        ('{"code_verifier": "dBjftJeZ4CVP"}', f'{{"code_verifier": "{R}"}}'),
        (
            "grant_type=authorization_code&code=c1&code_verifier=v1",
            f"grant_type=authorization_code&code=c1&code_verifier={R}",
        ),
        ('{"cvc_check": "pass", "otp_enabled": true}', '{"cvc_check": "pass", "otp_enabled": true}'),
        ('{"totp": "287082", "mfaCode": 123456}', f'{{"totp": "{R}", "mfaCode": "{R}"}}'),
        ("mfa_code=123456&remember=1", f"mfa_code={R}&remember=1"),
        ('{"backup_codes": ["a1b2", "c3d4"], "count": 2}', f'{{"backup_codes": "{R}", "count": 2}}'),
        ("recovery-code: 7f3a-19bc", f"recovery-code: {R}"),
        ("bearer=abc1234 Backup_Codes: a1b2", f"bearer={R} Backup_Codes: {R}"),  # b, r, u: no string prefix before =
        ("PRIV_KEY=MC4CAQAwBQYDK2VwBCIEI", f"PRIV_KEY={R}"),
        (
            "grant_type=client_credentials&client_assertion_type=urn%3Ajwt-bearer&client_assertion=a.b.c",
            f"grant_type=client_credentials&client_assertion_type=urn%3Ajwt-bearer&client_assertion={R}",
        ),
        ("SAMLResponse=PHNhbWxwOlJlc3BvbnNl&RelayState=%2Fhome", f"SAMLResponse={R}&RelayState=%2Fhome"),
        ('{"verification_code": "482913"}', f'{{"verification_code": "{R}"}}'),
        (
            '{"statusCode": 200, "errorCode": "E1", "countryCode": "FR", "options": "hotpot", "mfa": "sms"}',
            '{"statusCode": 200, "errorCode": "E1", "countryCode": "FR", "options": "hotpot", "mfa": "sms"}',
        ),
        ("curl -u ann:pw-3 https://example.com", f"curl -u ann:{R} https://example.com"),
        ("curl -s --user ann:pw-3 https://example.com", f"curl -s --user ann:{R} https://example.com"),
        ("curl -u ann https://example.com", "curl -u ann https://example.com"),  # curl asks for the password
        ("docker run -u 1000:1000 img curl", "docker run -u 1000:1000 img curl"),  # curl after it: a uid:gid
        ("curl https://x\nsort -u a:b", "curl https://x\nsort -u a:b"),  # curl on another line
        ("mysql --password=pw-3 db\nmysql --password pw-3 db", f"mysql --password={R} db\nmysql --password {R} db"),
    ],
)
def test_card_codes_one_time_codes_and_curl_credentials_in_text(text: str, expected: str) -> None:
    assert Policy().mask_text(text) == expected
    assert Policy().needs_mask(text) or text == expected


def test_card_secrets_under_keys_are_redacted_and_pins_when_named() -> None:
    assert _meta({"card": {"number": "4242", "cvv": "123", "pin": "0000"}}) == {
        "card": {"number": "4242", "cvv": R, "pin": "0000"}  # pin: not a default (``ping``, ``shipping`` hold it)
    }
    policy = redaction.from_setting(["pin"])
    assert [policy.verdict(key) for key in ("pin", "card_pin", "pinCode", "pinned", "ping")] == [SECRET] * 3 + [
        PLAIN
    ] * 2
    assert capture.to_metadata({"card": {"pin": "0000"}, "ping": "pong"}, policy, 1024) == {
        "card": {"pin": R},
        "ping": "pong",
    }
    assert redaction.from_setting(["-cvv"]).verdict("card_cvv") == PLAIN


def test_curl_is_looked_for_on_the_flags_line_only_so_far_back() -> None:
    far = "curl " + "x" * redaction_masks._CURL_REACH + " -u ann:pw"
    assert Policy().mask_text(far) == far
    near = "curl " + "x" * (redaction_masks._CURL_REACH - 10) + " -u ann:pw"
    assert Policy().mask_text(near) == near.replace(":pw", f":{R}")
