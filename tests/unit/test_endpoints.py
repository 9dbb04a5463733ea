"""ignore_endpoint rules (endpoints.py): which URLs and finished HTTP subsegments they match.

The HTTP clients are exercised end to end in test_instrumentation.py; these pin the matching itself, rule by rule.
The root conftest clears the rules before each test.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.subsegment import Subsegment

from lambda_tracer import Tracer, endpoints


def test_no_rule_ignores_nothing() -> None:
    assert endpoints.is_ignored("https://api.example.com/health") is False
    assert endpoints.is_ignored("") is False


def test_rules_without_a_hostname_or_a_url_are_not_added() -> None:
    endpoints.add()
    endpoints.add(hostname="", urls=[])
    endpoints.add(hostname=None, urls=["", ""])
    assert endpoints.is_ignored("https://api.example.com/") is False
    assert endpoints.is_ignored("http://localhost/anything") is False


def test_hostname_glob_ignores_every_path_of_matching_hosts() -> None:
    endpoints.add(hostname="*.example.com")
    assert endpoints.is_ignored("https://api.example.com/v1/orders?id=3")
    assert endpoints.is_ignored("http://a.b.example.com:8080/")
    assert not endpoints.is_ignored("https://example.com/")  # "*." needs a subdomain
    assert not endpoints.is_ignored("https://api.example.org/")


def test_hostnames_are_matched_without_regard_to_case() -> None:
    endpoints.add(hostname="API.Example.COM")
    assert endpoints.is_ignored("https://api.example.com/x")
    assert endpoints.is_ignored("https://API.EXAMPLE.COM/x")
    assert not endpoints.is_ignored("https://api.example.co/x")


@pytest.mark.parametrize(
    "hostname",
    [
        "https://api.example.com",
        "https://API.Example.com:8443",
        "http://api.example.com/v1",
        "https://api.example.com/v1/orders",
        "https://api.example.com:8443/v1/orders?page=2",
    ],
)
def test_hostname_given_as_a_url_is_reduced_to_its_host(hostname: str) -> None:
    endpoints.add(hostname=hostname)
    assert endpoints.is_ignored("https://api.example.com/anything/else")
    assert endpoints.is_ignored("http://api.example.com:9000/")
    assert not endpoints.is_ignored("https://v1.example.com/")
    assert not endpoints.is_ignored("https://8443/")
    assert not endpoints.is_ignored("https://other.example.com/v1/orders")


def test_star_dot_before_a_url_is_a_subdomain_glob() -> None:
    """The reference's example spells "any stage of this API" as ``f"*.{ENDPOINT}"`` with a URL."""
    endpoints.add(hostname="*.https://API.example.com:443/prod")
    assert endpoints.is_ignored("https://dev.api.example.com/prod/pay")
    assert not endpoints.is_ignored("https://api.example.com/prod/pay")  # the glob needs a subdomain
    assert not endpoints.is_ignored("https://dev.other.com/prod/pay")


def test_url_globs_match_the_path_or_the_whole_url() -> None:
    endpoints.add(urls=["/health*", "https://api.example.com/v1/*"])
    assert endpoints.is_ignored("https://any.host/healthcheck")
    assert endpoints.is_ignored("http://127.0.0.1:8080/health?deep=1")  # the path, without the query
    assert endpoints.is_ignored("https://api.example.com/v1/orders")
    assert not endpoints.is_ignored("https://api.example.com/v2/orders")
    assert not endpoints.is_ignored("https://any.host/status/health")
    assert not endpoints.is_ignored("https://any.host/Health")  # paths are case-sensitive


def test_an_empty_path_is_the_root() -> None:
    endpoints.add(urls=["/"])
    assert endpoints.is_ignored("https://api.example.com")
    assert endpoints.is_ignored("https://api.example.com/")
    assert not endpoints.is_ignored("https://api.example.com/x")


def test_hostname_and_urls_in_one_rule_must_both_match() -> None:
    endpoints.add(hostname="api.example.com", urls=["/collect", "/refund"])
    assert endpoints.is_ignored("https://api.example.com/collect")
    assert endpoints.is_ignored("https://api.example.com/refund")
    assert not endpoints.is_ignored("https://api.example.com/get")
    assert not endpoints.is_ignored("https://other.example.com/collect")


def test_every_rule_is_tried_not_only_the_first() -> None:
    """A rule whose hostname does not match must not stop the rules after it (nor must one whose URLs don't)."""
    endpoints.add(hostname="first.example.com")
    endpoints.add(hostname="second.example.com", urls=["/only-this"])
    endpoints.add(hostname="third.example.com")
    endpoints.add(urls=["/everywhere"])
    assert endpoints.is_ignored("https://first.example.com/x")
    assert endpoints.is_ignored("https://second.example.com/only-this")
    assert endpoints.is_ignored("https://third.example.com/x")
    assert endpoints.is_ignored("https://fourth.example.com/everywhere")
    assert not endpoints.is_ignored("https://second.example.com/x")
    assert not endpoints.is_ignored("https://fourth.example.com/x")


def test_a_url_without_a_host_matches_no_hostname_glob_but_url_globs() -> None:
    endpoints.add(hostname="?*")  # any host at all
    assert endpoints.is_ignored("https://a/health")
    assert not endpoints.is_ignored("/health")
    assert not endpoints.is_ignored("file:///health")
    endpoints.add(urls=["/health"])
    assert endpoints.is_ignored("/health")


def test_a_url_that_cannot_be_parsed_is_not_ignored() -> None:
    endpoints.add(urls=["*"])
    assert endpoints.is_ignored("https://api.example.com/") is True
    assert endpoints.is_ignored("http://[::1/broken") is False  # urlsplit: Invalid IPv6 URL


def test_clear_removes_every_rule() -> None:
    endpoints.add(hostname="*")
    endpoints.add(urls=["*"])
    assert endpoints.is_ignored("https://api.example.com/")
    endpoints.clear()
    assert not endpoints.is_ignored("https://api.example.com/")


def test_a_rule_added_on_every_invocation_is_kept_once() -> None:
    """``tracer.ignore_endpoint`` called inside the handler, as the same rule on every invocation of a warm sandbox:
    kept once, as the reference keeps it (the SDK's rules are a set). Each call appended it again: the list grew by
    one rule per invocation, and every HTTP call of a sandbox hours old was matched against thousands of them."""
    tracer = Tracer(service="svc")
    for _ in range(10_000):
        tracer.ignore_endpoint(hostname="health.internal", urls=["/ping", "/ready"])
        tracer.ignore_endpoint(urls=["*/metrics"])
    assert len(endpoints._rules) == 2
    assert endpoints.is_ignored("https://health.internal/ping") and endpoints.is_ignored("https://a.b/metrics")
    assert not endpoints.is_ignored("https://health.internal/orders")


def _http_subsegment(url: str | None) -> Subsegment:
    """A finished HTTP subsegment as the SDK's client patches record it (``http.request.url``)."""
    subsegment = Subsegment("api.example.com", "remote", Segment("test-function"))
    if url is not None:
        subsegment.put_http_meta("url", url)
        subsegment.put_http_meta("method", "GET")
    return subsegment


def test_finished_http_subsegments_are_checked_by_their_recorded_url() -> None:
    entity = _http_subsegment("https://api.example.com/health")
    assert endpoints.is_ignored_entity(entity) is False  # no rule yet
    endpoints.add(urls=["/health"])
    assert endpoints.is_ignored_entity(entity) is True
    assert endpoints.is_ignored_entity(_http_subsegment("https://api.example.com/orders")) is False


@pytest.mark.parametrize(
    "entity",
    [
        pytest.param(None, id="no entity"),
        pytest.param(SimpleNamespace(), id="no http attribute"),
        pytest.param(SimpleNamespace(http=None), id="http is None"),
        pytest.param(SimpleNamespace(http={"request": None}), id="request is None"),
        pytest.param(SimpleNamespace(http={"request": {"url": ""}}), id="empty url"),
        pytest.param(SimpleNamespace(http={"request": {"url": None}}), id="url is None"),
    ],
)
def test_entities_without_a_usable_url_are_kept(entity: object) -> None:
    endpoints.add(urls=["*"])
    assert endpoints.is_ignored_entity(entity) is False


def test_entities_without_http_metadata_are_kept() -> None:
    endpoints.add(urls=["*"])
    assert endpoints.is_ignored_entity(_http_subsegment(None)) is False
    assert endpoints.is_ignored_entity(SimpleNamespace(http={"request": {"url": "https://x.example/"}})) is True


@pytest.mark.parametrize(
    ("given", "host"),
    [
        ("https://api.example.com/r?to=https://other.example.com", "api.example.com"),
        ("https://user:pw@api.example.com:8443/x", "api.example.com"),
        ("http://[::1]:8080/", "::1"),
        ("API.example.com", "api.example.com"),
        ("https://*.example.com/x", "*.example.com"),
        ("https://api.example.com?q=1", "api.example.com"),  # a query right after the host
        ("https://api.example.com?a?b", "api.example.com"),  # cut at the first "?", not the last
        ("https://api.example.com#frag", "api.example.com"),  # a fragment right after the host
        ("https://api.example.com#a#b", "api.example.com"),  # cut at the first "#"
        ("https://[::1]]x/", "::1"),  # cut at the first "]"
        ("https://a.example:80:90/", "a.example"),  # cut at the first ":"
        ("Api.Example.com/x://y", "api.example.com/x://y"),  # a "/" before "://": not a URL, kept whole
    ],
)
def test_a_hostname_given_as_a_url_is_reduced_to_its_host(given: str, host: str) -> None:
    assert endpoints._host_pattern(given) == host
