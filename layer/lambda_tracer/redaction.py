"""The redaction policy: what counts as a secret, and how one is masked before anything leaves the process.

Secrets arrive in two shapes, so there are two kinds of rule:

* **Keys.** A value under a key that names a secret (``password``, ``clientSecret``, ``DB_PASSWORD``,
  ``X-Amz-Security-Token``) becomes ``[REDACTED]``. A key is normalised (NFKC, invisible characters dropped),
  split into lower-case words (separators, spaces and camelCase), then matched on words and on stems inside
  the joined words (``dbpassword``, ``pass_word``, ``api`` + ``key``), so every spelling matches. A key whose
  last word describes the secret rather than holding it (``token_type``, ``password_length``) is not a
  secret. ``None`` and booleans are kept: that a password is missing or set is not the password.
* **Text.** In every string: URL credentials, values of secret-named parameters (``?api_key=``,
  ``--password=``, ``--password s``, ``"token": "…"``, ``password: …`` lines, ``<password>…</password>``),
  bearer and basic credentials, JWTs and private-key blocks are masked, names kept. Under cookie keys every
  cookie value is masked; under query-string keys every parameter value is.

``LAMBDA_TRACER_REDACT_KEYS`` extends the words (``pin,ssn``), allow-lists keys (``-token_count``), or turns
redaction off (``none``). The policy is built once per value of the variable and answers per key from a
bounded cache, because the same few keys come back on every invocation.

Every pattern runs in linear time: a pattern can only start where a lookbehind allows, and repeats are
bounded, so no string a caller passes can stall the function.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from . import config

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

REDACTED = "[REDACTED]"

#: What a key can hold, as far as redaction goes. COUNTS: a secret, unless the value is a number
#: (``max_tokens``, ``input_tokens``: the token counts of language-model APIs).
PLAIN, SECRET, COOKIE, QUERY, COUNTS = 0, 1, 2, 3, 4

#: Whole words that name a secret.
SECRET_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "passphrase", "passcode",
        "secret", "secrets", "token", "jwt", "bearer", "auth", "authorization",
        "credential", "credentials", "creds", "signature", "csrf", "xsrf", "session", "sid", "dsn",
    }
)  # fmt: skip
#: Stems that name a secret anywhere in the key's joined words (``dbpassword``, ``pass_word``, ``api_key``).
SECRET_STEMS = (
    "password", "passwd", "passphrase", "passcode", "secret", "token", "credential", "signature",
    "authorization", "apikey", "privatekey", "accesskey", "sessionid", "connectionstring", "connstr",
)  # fmt: skip
#: Last words that make a key describe a secret rather than hold it (``token_type``, ``secret_name``).
DESCRIPTORS = frozenset(
    {
        "type", "types", "count", "length", "len", "size", "expires", "expiry", "expiration", "ttl",
        "policy", "required", "enabled", "name", "arn", "hint", "format", "version", "at", "url", "uri",
        "duration", "timeout", "status",
    }
)  # fmt: skip
#: Words that make a key hold cookies (values masked one by one, names kept).
COOKIE_WORDS = frozenset({"cookie", "cookies"})
#: Last words that, after ``query``, make a key hold a whole query string (``rawQueryString``,
#: ``queryStringParameters``): every value is masked there, names kept.
QUERY_LAST_WORDS = frozenset({"string", "parameters", "params"})
#: Parameter names whose value is always user input, whatever field it was for (pydantic's messages).
ALWAYS_MASKED_PARAMETERS = frozenset({"inputvalue"})
#: Cookie attributes (after the cookie itself, in Set-Cookie) and what their values look like: kept,
#: because they describe the cookie; anything else, a cookie named ``path`` in a Cookie header included,
#: is masked.
COOKIE_ATTRIBUTES: dict[str, str] = {
    "path": r"/[\w/.\-~%]{0,200}",
    "domain": r"\.?[\w\-]{1,63}(\.[\w\-]{1,63}){0,10}",
    "expires": r"[\w, :\-]{1,40}",
    "max-age": r"-?[0-9]{1,12}",
    "samesite": r"(?i:strict|lax|none)",
    "priority": r"(?i:low|medium|high)",
}
#: Cookie attributes that are flags: no value.
COOKIE_FLAGS = frozenset({"secure", "httponly", "partitioned"})
#: Longest key judged (longer ones are judged on this prefix and not cached) and text masked at once.
MAX_KEY_CHARS = 256
_CACHE_SIZE = 4096

# Patterns are compiled on first use (``_regex``): compiling all of them costs more at import than most cold
# starts ever use, and strings that none of them could change never reach them (``needs_mask``).
_WORD = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[^\W\d_A-Za-z]+"
#: ``https://user:password@host``, ``//user@host``: the user part up to the last ``@`` of the authority.
_URL_USERINFO = r"(?<![A-Za-z0-9+.\-/])((?:[A-Za-z][A-Za-z0-9+.\-]{0,31}:)?//)([^\s/?#]{1,512})@"
#: ``name=value`` after a start, a separator or a quote; the value quoted, or up to a space, ``&`` or ``;``.
_PARAMETER = (
    r"(?:(?<=[\s?&;,(\[{#\"'])|^)(-{0,2})([A-Za-z_%][A-Za-z0-9_.%\-\[\]]{0,127})="
    r"(?!\[REDACTED\])(\"[^\"]{0,4096}\"|'[^']{0,4096}'|[^\s&;\"']+)"
)
#: ``--password value``: a flag and the word after it.
_FLAG_VALUE = r"(?<![\w\-])(--?[A-Za-z][A-Za-z0-9_.\-]{0,63})([ \t]+)([^\s\"'\-][^\s\"']*)"
#: ``"token": "…"`` in JSON or a repr, ``'--password', '…'`` in the repr of an argument list, also with a
#: list or bytes value (``'key': ['…']``, ``'key': b'…'``). A lookahead, so that pairs may overlap: in
#: ``'a', '--password', 's'`` the name is also the previous value.
_QUOTED_PAIR = (
    r"(?=([\"'])(-{0,2}[A-Za-z_][A-Za-z0-9_.\- ]{0,63})\1\s*[:,]\s*[\[(]?\s*b?([\"'])((?:\\.|(?!\3)[^\\])*)\3)"
)
#: ``"password": 12345``: a number after a quoted name (JSON that could not be parsed).
_QUOTED_NUMBER = r"([\"'])([A-Za-z_][A-Za-z0-9_.\- ]{0,63})\1(\s*:\s*)(-?[0-9][0-9.eE+\-]{0,64})"
#: ``password: hunter2`` as a line of its own (HTTP headers, YAML): the rest of the line.
_HEADER_LINE = r"(?:(?<=[\r\n])|^)([ \t]*)([A-Za-z_][A-Za-z0-9_.\-]{0,63})([ \t]*:[ \t]*)([^\r\n]+)"
_BEARER = r"(?i)\b(bearer|basic|authorization\s*[:=]\s*\w+)(\s+)[A-Za-z0-9._~+/=\-]{6,}"
_JWT = r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
_PRIVATE_KEY = r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----)[^\-]*"
_XML_ELEMENT = r"<([A-Za-z_][A-Za-z0-9_.:\-]{0,63})>([^<]{1,4096})</\1>"
_COOKIE_SPLIT = r"(;|,(?=\s*[^\s;,=]+=))"
_JSON_KEY = r'"((?:[^"\\]|\\.){1,128})"\s*:'


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def words(key: str) -> tuple[str, ...]:
    """``"X-Amz-Security-Token"`` -> ``("x", "amz", "security", "token")``; ``"clientSecret"`` -> (client, secret)."""
    key = key[:MAX_KEY_CHARS]
    if not key.isascii():
        key = _normalized(key)
    return tuple(word.lower() for word in _regex(_WORD).findall(key))


def _normalized(key: str) -> str:
    """Fullwidth and other compatibility forms folded (NFKC), invisible format characters dropped."""
    import unicodedata  # only for keys that are not ASCII

    folded = unicodedata.normalize("NFKC", key)
    return "".join(char for char in folded if unicodedata.category(char) != "Cf")


def _key_words(key: object) -> tuple[str, ...]:
    """Words of any dict key: text, bytes, or the text parts of a tuple (``("api", "key")``)."""
    if isinstance(key, str):
        return words(key)
    if isinstance(key, (bytes, bytearray)):
        return words(bytes(key[:MAX_KEY_CHARS]).decode("utf-8", "replace"))
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
        #: Extra names given by the user, as joined words ("pin", "ssn", "accountnumber").
        self.extra = frozenset("".join(words(name)) for name in extra) - {""}
        self.allowed = frozenset("".join(words(name)) for name in allowed) - {""}
        self._verdicts: dict[object, int] = {}

    def verdict(self, key: object) -> int:
        """PLAIN, SECRET, COOKIE, QUERY or COUNTS for a dict key (cached: keys repeat on every invocation)."""
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable key (a list inside a tuple): judge it, do not cache it
            return self._judge(_key_words(key))
        found = self._judge(_key_words(key))
        if not isinstance(key, (str, bytes)) or len(key) <= MAX_KEY_CHARS:  # a huge key is not kept alive
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[key] = found
        return found

    def _judge(self, key_words: tuple[str, ...]) -> int:
        if not self.enabled or not key_words:
            return PLAIN
        joined = "".join(key_words)
        if joined in self.allowed:
            return PLAIN
        if any(word in self.extra for word in key_words) or any(
            "".join(key_words[i:]) in self.extra for i in range(len(key_words))
        ):
            return SECRET
        if len(key_words) > 1 and key_words[-1] in DESCRIPTORS:
            return PLAIN
        if "cookie" in self.secret_words and any(word in COOKIE_WORDS for word in key_words):
            return COOKIE
        if joined.endswith("querystring") or ("query" in key_words[:-1] and key_words[-1] in QUERY_LAST_WORDS):
            return QUERY
        if any(word in self.secret_words for word in key_words) or any(stem in joined for stem in self.stems):
            return COUNTS if key_words[-1].endswith("tokens") else SECRET
        return PLAIN

    def is_secret_name(self, name: str) -> bool:
        """Whether a parameter or flag name (``api_key``, ``--password``, ``api%5Fkey``) names a secret."""
        name = name.lstrip("-")
        if "%" in name:
            from urllib.parse import unquote  # only for percent-encoded names

            name = unquote(name)
        return self.verdict(name) != PLAIN

    def names_secret_key(self, text: str) -> bool:
        """Whether JSON-like text has a quoted key (``"password":``) that is not plain."""
        return any(self.verdict(match.group(1)) != PLAIN for match in _regex(_JSON_KEY).finditer(text))

    def needs_mask(self, text: str) -> bool:
        """Whether ``mask_text`` could change ``text``: cheap, and most strings answer no.

        Each test is a necessary condition of one mask (see mask_text).
        """
        return self.enabled and (
            "=" in text
            or "//" in text
            or "eyJ" in text
            or ":" in text
            or (("'" in text or '"' in text) and "," in text)
            or " -" in text
            or text[:1] == "-"
            or "-----" in text
            or "</" in text
            or _names_a_credential_scheme(text)
        )

    def mask_text(self, text: str) -> str:
        """Mask every secret this policy can recognise in free text; the rest of it is kept."""
        if not self.needs_mask(text):
            return text
        if "eyJ" in text:
            text = _regex(_JWT).sub(REDACTED, text)
        if _names_a_credential_scheme(text) or "uthorization" in text or "UTHORIZATION" in text:
            text = _regex(_BEARER).sub(rf"\1\2{REDACTED}", text)
        if "//" in text:
            text = _regex(_URL_USERINFO).sub(_mask_userinfo, text)
        if "=" in text:
            text = _regex(_PARAMETER).sub(self._mask_parameter, text)
        if " -" in text or text[:1] == "-":
            text = _regex(_FLAG_VALUE).sub(self._mask_flag_value, text)
        if ("'" in text or '"' in text) and (":" in text or "," in text):
            text = self._mask_quoted_pairs(text)
            if ":" in text:
                text = _regex(_QUOTED_NUMBER).sub(self._mask_quoted_number, text)
        if ":" in text:
            text = _regex(_HEADER_LINE).sub(self._mask_header_line, text)
        if "PRIVATE KEY" in text:
            text = _regex(_PRIVATE_KEY).sub(rf"\1{REDACTED}", text)
        if "</" in text:
            text = _regex(_XML_ELEMENT).sub(self._mask_element, text)
        return text

    def _mask_parameter(self, match: re.Match[str]) -> str:
        dashes, name, value = match.groups()
        secret = self.is_secret_name(name) or "".join(words(name)) in ALWAYS_MASKED_PARAMETERS
        if not secret:
            return match.group(0)
        quote = value[0] if value[:1] in ("'", '"') else ""
        return f"{dashes}{name}={quote}{REDACTED}{quote}"

    def _mask_flag_value(self, match: re.Match[str]) -> str:
        flag, space, _ = match.groups()
        return f"{flag}{space}{REDACTED}" if self.is_secret_name(flag) else match.group(0)

    def _mask_quoted_pairs(self, text: str) -> str:
        spans = [match.span(4) for match in _regex(_QUOTED_PAIR).finditer(text) if self.is_secret_name(match.group(2))]
        parts, position = [], 0
        for start, end in spans:
            if start >= position:
                parts += [text[position:start], REDACTED]
                position = end
        return "".join(parts) + text[position:]

    def _mask_quoted_number(self, match: re.Match[str]) -> str:
        quote, name, colon, _ = match.groups()
        return f'{quote}{name}{quote}{colon}"{REDACTED}"' if self.is_secret_name(name) else match.group(0)

    def _mask_header_line(self, match: re.Match[str]) -> str:
        indent, name, colon, _ = match.groups()
        return f"{indent}{name}{colon}{REDACTED}" if self.is_secret_name(name) else match.group(0)

    def _mask_element(self, match: re.Match[str]) -> str:
        name, _ = match.groups()
        return f"<{name}>{REDACTED}</{name}>" if self.is_secret_name(name) else match.group(0)

    def mask_under(self, verdict: int, value: Any, limit: int) -> Any:
        """What a value under a COOKIE or QUERY key becomes: names kept, every value masked.

        Strings are cut to ``limit`` first, so a huge header costs no more than a small one.
        """
        mask: Callable[[str], str] = mask_cookies if verdict == COOKIE else mask_query_string
        if isinstance(value, str):
            return mask(value[:limit])
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value[:1000]):
            return [mask(item[:limit]) for item in value[:1000]]
        if isinstance(value, dict):  # queryStringParameters, a cookie jar
            return {str(name)[:MAX_KEY_CHARS]: REDACTED for name in list(value)[:1000]}
        return REDACTED


def _names_a_credential_scheme(text: str) -> bool:
    """``Bearer``/``Basic`` in any case (the pattern ignores case, so its gate must too)."""
    lowered = text.lower()
    return "bearer" in lowered or "basic" in lowered


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.groups()
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{user}:{REDACTED}@" if colon else f"{scheme}{REDACTED}@"


def mask_cookies(text: str) -> str:
    """``"session=abc; Path=/; HttpOnly"`` -> ``"session=[REDACTED]; Path=/; HttpOnly"``.

    The first part is always the cookie, even one named like an attribute; a part without ``=`` that is
    not an attribute (``"abc"`` alone) is masked whole.
    """
    parts = _regex(_COOKIE_SPLIT).split(text)
    for index in range(0, len(parts), 2):
        name, equals, value = parts[index].partition("=")
        attribute = name.strip().lower()
        if index > 0 and (
            (equals and attribute in COOKIE_ATTRIBUTES and _regex(COOKIE_ATTRIBUTES[attribute]).fullmatch(value))
            or (not equals and attribute in COOKIE_FLAGS)
        ):
            continue
        if equals and value:
            parts[index] = f"{name}={REDACTED}"
        elif not equals and name.strip():
            parts[index] = f"{name[: len(name) - len(name.lstrip())]}{REDACTED}"
    return "".join(parts)


def mask_query_string(text: str) -> str:
    """``"page=2&api_key=x&flag"`` -> ``"page=[REDACTED]&api_key=[REDACTED]&[REDACTED]"``: names kept."""
    parts = text.split("&")
    for index, part in enumerate(parts):
        name, equals, value = part.partition("=")
        if equals:
            parts[index] = f"{name}={REDACTED}" if value else part
        elif part:
            parts[index] = REDACTED  # a bare part can be a token (``?abc123``)
    return "&".join(parts)


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
