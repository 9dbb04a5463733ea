"""Every environment variable lambda_tracer reads, parsed forgivingly.

A garbage value never raises: it is reported once with a WARNING naming the variable and the
default that is used instead. Values are read when asked for (not cached at import) so that
tests and long-lived processes see the environment as it is now.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("lambda_tracer")

# Names of the reference (Powertools) that keep working unchanged.
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
CAPTURE_RESPONSE = "POWERTOOLS_TRACER_CAPTURE_RESPONSE"
CAPTURE_ERROR = "POWERTOOLS_TRACER_CAPTURE_ERROR"

# Our own settings.
PATCH_MODULES = "LAMBDA_TRACER_PATCH_MODULES"
MAX_CAPTURE_BYTES = "LAMBDA_TRACER_MAX_CAPTURE_BYTES"
REDACT_KEYS = "LAMBDA_TRACER_REDACT_KEYS"
ORIGINAL_HANDLER = "LAMBDA_TRACER_ORIGINAL_HANDLER"
GC_FREEZE = "LAMBDA_TRACER_GC_FREEZE"

# Set by Lambda, SAM and Chalice.
TASK_ROOT = "LAMBDA_TASK_ROOT"
SAM_LOCAL = "AWS_SAM_LOCAL"
CHALICE_LOCAL = "AWS_CHALICE_CLI_MODE"
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"

DEFAULT_SERVICE = "service_undefined"
DEFAULT_MAX_CAPTURE_BYTES = 16 * 1024
#: A value bigger than this could never fit in one X-Ray datagram (65,507 bytes) anyway.
LIMIT_MAX_CAPTURE_BYTES = 60 * 1024
DEFAULT_REDACT_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "session_token",
        "authorization",
        "x-api-key",
        "api_key",
        "apikey",
        "credentials",
        "private_key",
        "cookie",
        "set-cookie",
    }
)

_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})
_FALSE = frozenset({"0", "n", "no", "f", "false", "off"})
_warned: set[tuple[str, str]] = set()


def warn_once(name: str, raw: str, default: object) -> None:
    """Log one WARNING per (variable, value): a bad setting must be visible, not noisy."""
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    report_once((name, raw), f"ignoring {name}={shown!r} (not understood); using {default!r}")


def report_once(key: tuple[str, str], message: str) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen (misuse of the API, bad settings)."""
    if key in _warned:
        return
    _warned.add(key)
    logger.warning("lambda_tracer: %s", message)


def _raw(name: str) -> str | None:
    return os.environ.get(name)


def get_bool(name: str, default: bool) -> bool:
    """Truthy parsing of the reference (1/y/yes/t/true/on, 0/n/no/f/false/off), but never raising."""
    value = get_explicit_bool(name, default)
    return default if value is None else value


def get_explicit_bool(name: str, default: bool | None = None) -> bool | None:
    """The variable's truth value; None when it is unset, blank or not understood (then reported once)."""
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    warn_once(name, raw, default)
    return None


def get_int(name: str, default: int, low: int, high: int) -> int:
    raw = _raw(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        warn_once(name, raw, default)
        return default
    if not low <= value <= high:
        clamped = min(max(value, low), high)
        warn_once(name, raw, clamped)
        return clamped
    return value


def get_str(name: str) -> str | None:
    raw = _raw(name)
    if raw is None:
        return None
    value = raw.strip()
    return value or None


def get_list(name: str) -> list[str] | None:
    """Comma- or space-separated list; None when unset, [] when set to an empty/blank value."""
    raw = _raw(name)
    if raw is None:
        return None
    return [item for item in raw.replace(",", " ").split() if item]


def service_from_env() -> str | None:
    return get_str(SERVICE_NAME)


def auto_disabled_reason() -> str | None:
    """Why tracing is off by the environment, or None when it should run."""
    if get_bool(TRACE_DISABLED, False):
        return f"{TRACE_DISABLED} is true"
    if not _raw(TASK_ROOT):
        return f"not running in Lambda ({TASK_ROOT} is not set)"
    if _raw(SAM_LOCAL):
        return f"running under SAM local ({SAM_LOCAL})"
    if _raw(CHALICE_LOCAL):
        return f"running under Chalice local ({CHALICE_LOCAL})"
    return None


def capture_response_default() -> bool:
    return get_bool(CAPTURE_RESPONSE, True)


def capture_error_default() -> bool:
    return get_bool(CAPTURE_ERROR, True)


def max_capture_bytes() -> int:
    return get_int(MAX_CAPTURE_BYTES, DEFAULT_MAX_CAPTURE_BYTES, 256, LIMIT_MAX_CAPTURE_BYTES)


_redact_cache: tuple[str | None, frozenset[str]] = ("\0unset", DEFAULT_REDACT_KEYS)


def redact_keys() -> frozenset[str]:
    """The redaction keys, parsed again only when the variable changes (this runs on every invocation)."""
    global _redact_cache
    raw = _raw(REDACT_KEYS)
    if raw != _redact_cache[0]:
        _redact_cache = (raw, _parse_redact_keys())
    return _redact_cache[1]


def _parse_redact_keys() -> frozenset[str]:
    """Keys whose values are replaced before anything leaves the process.

    Unset: the default list. Set: the given keys *added* to the defaults; a leading "-" removes
    a default (``-token``), and the single value ``none`` turns redaction off.
    """
    items = get_list(REDACT_KEYS)
    if items is None:
        return DEFAULT_REDACT_KEYS
    lowered = [item.lower() for item in items]
    if lowered == ["none"]:
        return frozenset()
    keys = set(DEFAULT_REDACT_KEYS)
    for item in lowered:
        if item.startswith("-"):
            keys.discard(item[1:])
        else:
            keys.add(item)
    return frozenset(keys)
