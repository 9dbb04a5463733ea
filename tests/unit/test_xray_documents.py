"""X-Ray's documents (backends/xray_documents.py): strict, compact JSON under 64,000 bytes for any input, written by
the prebuilt encoder exactly as the one-shot ``json.JSONEncoder`` it replaced wrote them (reference_encoder.py)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from reference_encoder import old_dumps, old_encode, random_value

from lambda_env import invoke
from lambda_tracer import Tracer
from lambda_tracer.backends import udp, xray_documents
from lambda_tracer_local.daemon import by_name


@pytest.mark.parametrize("seed", range(200))
def test_any_document_is_encoded_as_before(seed: int) -> None:
    rng = random.Random(seed)
    document = {f"key{i}": random_value(rng) for i in range(rng.randint(1, 6))}
    assert xray_documents.encode(document) == old_encode(document)
    assert xray_documents.dumps(document) == old_dumps(document)


def test_the_prebuilt_encoder_recovers_from_a_document_it_stopped_in() -> None:
    shared: dict[str, Any] = {"inner": [1, 2]}
    failing = {"shared": shared, "bad": float("nan")}
    assert xray_documents.dumps(failing) == old_dumps(failing)
    cyclic: list[Any] = [shared]
    cyclic.append(cyclic)
    with pytest.raises(RecursionError):  # as before: the cycle is reported by the caller, nothing is sent
        xray_documents.dumps({"cycle": cyclic})
    assert xray_documents.dumps({"again": shared}) == '{"again":{"inner":[1,2]}}'


def test_documents_stay_under_64000_bytes(daemon: Any) -> None:
    tracer = Tracer(service="svc")

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> str:
        for n in range(10):
            tracer.put_metadata(f"chunk{n}", "z" * 15_000)
        raise ValueError("x" * 900)

    call = invoke(handler)
    assert max(daemon.datagram_sizes) <= 64_000 + len(udp.HEADER)
    doc = by_name(call.documents, "## handler")
    assert (
        doc["metadata"]["lambda_tracer"]["truncated"] is True and doc["cause"]["exceptions"][0]["type"] == "ValueError"
    )


def test_the_encoder_never_writes_nan_tokens() -> None:
    body = xray_documents.encode({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(body) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    assert b"NaN" not in body and b"Infinity" not in body
