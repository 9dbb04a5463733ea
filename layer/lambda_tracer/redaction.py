"""The redaction policy: what counts as a secret, and how one is masked before anything leaves the process.

Secrets arrive in two shapes, so there are two kinds of rule:

* **Keys.** A value under a key that names a secret (``password``, ``clientSecret``, ``DB_PASSWORD``,
  ``X-Amz-Security-Token``) becomes ``[REDACTED]``. A key is split into lower-case words (separators, spaces
  and camelCase), then matched on words, on stems inside a word (``dbpassword``) and on compounds
  (``api`` + ``key``), so every spelling matches. A key whose last word describes the secret rather than
  holding it (``token_type``, ``password_length``) is not a secret. ``None`` and booleans are kept: that a
  password is missing or set is not the password.
* **Text.** In every string: URL credentials, values of secret-named parameters (``?api_key=``,
  ``--password=``, ``"token": "…"``), bearer credentials and JWTs are masked, names kept. Under cookie keys
  every cookie value is masked; under query-string keys every parameter value is.

``LAMBDA_TRACER_REDACT_KEYS`` extends the words (``pin,ssn``), allow-lists keys (``-token_count``), or turns
redaction off (``none``). The policy is built once per value of the variable and answers per key from a
bounded cache, because the same few keys come back on every invocation.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from . import config

REDACTED = "[REDACTED]"

#: What a key can hold, as far as redaction goes. COUNTS: a secret, unless the value is a number
#: (``max_tokens``, ``input_tokens``: the token counts of language-model APIs).
PLAIN, SECRET, COOKIE, QUERY, COUNTS = 0, 1, 2, 3, 4

#: Whole words that name a secret.
SECRET_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "passphrase", "passcode",
        "secret", "secrets", "token", "jwt", "bearer", "auth", "authorization",
        "credential", "credentials", "creds", "apikey", "privatekey", "signature",
        "csrf", "xsrf", "sessionid", "dsn",
    }
)  # fmt: skip
#: Stems that name a secret inside a longer word (``dbpassword``, ``accesstoken``, ``xsrftoken``).
SECRET_STEMS = ("password", "passwd", "passphrase", "secret", "token", "credential", "signature", "authorization")
#: Secrets named by two words, matched on the key's words joined (``api_key``, ``PrivateKey``, ``conn_str``).
SECRET_COMPOUNDS = ("apikey", "privatekey", "accesskey", "sessionid", "connectionstring", "connstr")
#: Last words that make a key describe a secret rather than hold it (``token_type``, ``secret_name``).
DESCRIPTORS = frozenset(
    {
        "type", "types", "count", "length", "len", "size", "expires", "expiry", "expiration", "ttl",
        "policy", "required", "enabled", "name", "arn", "hint", "format", "version", "at", "url", "uri",
    }
)  # fmt: skip
#: Words that make a key hold cookies (values masked one by one, names kept).
COOKIE_WORDS = frozenset({"cookie", "cookies"})
#: Words of keys that hold whole query strings (``rawQueryString``, ``query_string``).
QUERY_STRING_WORDS = ("query", "string")
#: Cookie attributes: kept as they are, because they describe the cookie, not its value.
COOKIE_ATTRIBUTES = frozenset(
    {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority", "partitioned"}
)

# Patterns are compiled on first use (``_regex``): compiling all of them costs more at import than most cold
# starts ever use, and strings that none of them could change never reach them (``needs_mask``).
_WORD = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[^\W\d_A-Za-z]+"
_URL_USERINFO = r"([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/?#@]+)@"
_PARAMETER = r"(?:(?<=[\s?&;,(\[{])|^)(-{0,2})([A-Za-z_][A-Za-z0-9_.\-]{0,63})=(?!\[REDACTED\])([^\s&;,#\"')\]}]+)"
#: ``"token": "…"`` in JSON or a repr, and ``'--password', '…'`` in the repr of an argument list.
#: A lookahead, so that pairs may overlap: in ``'a', '--password', 's'`` the name is also the previous value.
_QUOTED_PAIR = r"(?=([\"'])(-{0,2}[A-Za-z_][A-Za-z0-9_.\- ]{0,63})\1\s*[:,]\s*([\"'])((?:\\.|(?!\3)[^\\])*)\3)"
_BEARER = r"\b([Bb]earer|BEARER|[Bb]asic|BASIC)(\s+)[A-Za-z0-9._~+/=\-]{6,}"
_JWT = r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
_COOKIE_SPLIT = r"(;|,(?=\s*[^\s;,=]+=))"
_QUERY_PAIR = r"(^|[&;?])([^=&;?]*)=([^&;]*)"
_CACHE_SIZE = 4096


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def words(key: str) -> tuple[str, ...]:
    """``"X-Amz-Security-Token"`` -> ``("x", "amz", "security", "token")``; ``"clientSecret"`` -> (client, secret)."""
    return tuple(word.lower() for word in _regex(_WORD).findall(key))


def _key_words(key: object) -> tuple[str, ...]:
    """Words of any dict key: text, bytes, or the text parts of a tuple (``("api", "key")``)."""
    if isinstance(key, str):
        return words(key)
    if isinstance(key, (bytes, bytearray)):
        return words(bytes(key[:256]).decode("utf-8", "replace"))
    if isinstance(key, tuple):
        return tuple(word for part in key[:8] if isinstance(part, (str, bytes)) for word in _key_words(part))
    return ()


class Policy:
    """Which keys hold secrets, and the text masks; ``enabled=False`` records everything as it is."""

    def __init__(
        self,
        extra: Iterable[str] = (),
        allowed: Iterable[str] = (),
        removed: Iterable[str] = (),
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        removed_words = frozenset(removed)
        self.secret_words = (SECRET_WORDS | COOKIE_WORDS) - removed_words
        self.stems = tuple(stem for stem in SECRET_STEMS if stem not in removed_words)
        self.compounds = tuple(compound for compound in SECRET_COMPOUNDS if compound not in removed_words)
        #: Extra names given by the user, as joined words ("pin", "ssn", "accountnumber").
        self.extra = frozenset("".join(words(name)) for name in extra) - {""}
        self.allowed = frozenset("".join(words(name)) for name in allowed) - {""}
        self._verdicts: dict[object, int] = {}

    def verdict(self, key: object) -> int:
        """PLAIN, SECRET, COOKIE or QUERY for a dict key (cached: keys repeat on every invocation)."""
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable key (a list inside a tuple): judge it, do not cache it
            return self._judge(_key_words(key))
        if len(self._verdicts) >= _CACHE_SIZE:
            self._verdicts.clear()
        found = self._verdicts[key] = self._judge(_key_words(key))
        return found

    def _judge(self, key_words: tuple[str, ...]) -> int:
        if not self.enabled or not key_words:
            return PLAIN
        joined = "".join(key_words)
        if joined in self.allowed:
            return PLAIN
        if joined in self.extra or any("".join(key_words[i:]) in self.extra for i in range(1, len(key_words))):
            return SECRET
        if len(key_words) > 1 and key_words[-1] in DESCRIPTORS:
            return PLAIN
        if any(word in COOKIE_WORDS for word in key_words) and "cookie" in self.secret_words:
            return COOKIE
        if key_words[-2:] == QUERY_STRING_WORDS or key_words[-1] == "querystring":
            return QUERY
        for word in key_words:
            if word in self.secret_words or word in self.extra or any(stem in word for stem in self.stems):
                return COUNTS if key_words[-1].endswith("tokens") else SECRET
        return SECRET if any(compound in joined for compound in self.compounds) else PLAIN

    def is_secret_name(self, name: str) -> bool:
        """Whether a parameter or flag name (``api_key``, ``--password``) names a secret."""
        return self.verdict(name.lstrip("-")) != PLAIN

    def needs_mask(self, text: str) -> bool:
        """Whether ``mask_text`` could change ``text`` (cheap, and most strings answer no).

        Each test is a necessary condition of one mask: ``=`` for parameters, ``://`` for URL credentials,
        ``eyJ`` for JWTs, a quote with ``:`` or ``,`` for quoted pairs, ``earer``/``asic``/``EARER``/``ASIC``
        for bearer and basic credentials.
        """
        return self.enabled and (
            "=" in text
            or "://" in text
            or "eyJ" in text
            or (("'" in text or '"' in text) and (":" in text or "," in text))
            or "earer" in text
            or "asic" in text
            or "EARER" in text
            or "ASIC" in text
        )

    def mask_text(self, text: str) -> str:
        """Mask URL credentials, secret-named parameters and quoted pairs, bearer credentials and JWTs."""
        if not self.needs_mask(text):
            return text
        if "eyJ" in text:
            text = _regex(_JWT).sub(REDACTED, text)
        if "://" in text:
            text = _regex(_URL_USERINFO).sub(_mask_userinfo, text)
        if "=" in text:
            text = _regex(_PARAMETER).sub(self._mask_parameter, text)
        if ("'" in text or '"' in text) and (":" in text or "," in text):
            text = self._mask_quoted_pairs(text)
        if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
            text = _regex(_BEARER).sub(rf"\1\2{REDACTED}", text)
        return text

    def _mask_parameter(self, match: re.Match[str]) -> str:
        dashes, name, _ = match.groups()
        return f"{dashes}{name}={REDACTED}" if self.is_secret_name(name) else match.group(0)

    def _mask_quoted_pairs(self, text: str) -> str:
        spans = [match.span(4) for match in _regex(_QUOTED_PAIR).finditer(text) if self.is_secret_name(match.group(2))]
        parts, position = [], 0
        for start, end in spans:
            if start >= position:
                parts += [text[position:start], REDACTED]
                position = end
        return "".join(parts) + text[position:]

    def mask_under(self, verdict: int, value: Any) -> Any:
        """What a value under a COOKIE or QUERY key becomes: each string masked, anything else redacted."""
        mask: Callable[[str], str] = mask_cookies if verdict == COOKIE else mask_query_string
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return [mask(item) for item in value]
        return REDACTED


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.groups()
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{user}:{REDACTED}@" if colon else f"{scheme}{REDACTED}@"


def mask_cookies(text: str) -> str:
    """``"session=abc; Path=/; HttpOnly"`` -> ``"session=[REDACTED]; Path=/; HttpOnly"``."""
    parts = _regex(_COOKIE_SPLIT).split(text)
    for index in range(0, len(parts), 2):
        name, equals, value = parts[index].partition("=")
        if equals and value and name.strip().lower() not in COOKIE_ATTRIBUTES:
            parts[index] = f"{name}={REDACTED}"
    return "".join(parts)


def mask_query_string(text: str) -> str:
    """``"page=2&api_key=x"`` -> ``"page=[REDACTED]&api_key=[REDACTED]"``: every value, names kept."""
    return _regex(_QUERY_PAIR).sub(lambda match: f"{match.group(1)}{match.group(2)}={REDACTED}", text)


_current: tuple[str | None, Policy] | None = None


def current() -> Policy:
    """The policy for ``LAMBDA_TRACER_REDACT_KEYS`` as it is now (built again only when it changes)."""
    global _current
    raw = config.get_raw(config.REDACT_KEYS)
    if _current is None or _current[0] != raw:
        _current = (raw, from_setting(config.get_list(config.REDACT_KEYS)))
    return _current[1]


def from_setting(items: list[str] | None) -> Policy:
    """``none`` turns redaction off; ``-name`` allow-lists a key (and drops a default word); others add names."""
    if items is None:
        return Policy()
    if [item.lower() for item in items] == ["none"]:
        return Policy(enabled=False)
    allowed = [item[1:] for item in items if item.startswith("-")]
    extra = [item for item in items if not item.startswith("-")]
    return Policy(extra=extra, allowed=allowed, removed=("".join(words(name)) for name in allowed))
