"""The redaction policy: what counts as a secret, and how one is masked before anything leaves the process.

Secrets arrive in three shapes, so there are three kinds of rule:

* **Keys.** A value under a key that names a secret (``password``, ``clientSecret``, ``DB_PASSWORD``,
  ``X-Amz-Security-Token``) becomes ``[REDACTED]``. A key is normalised (NFKC, invisible characters dropped),
  split into lower-case words (separators, spaces and camelCase), then matched on words and on stems inside
  the joined words (``dbpassword``, ``pass_word``, ``api`` + ``key``), so every spelling matches. A key whose
  last word describes the secret rather than holding it (``token_type``, ``password_length``) is not a
  secret. ``None`` and booleans are kept: that a password is missing or set is not the password.
* **Names in text.** The value after a secret name, in every text form a structure is written in:
  ``name=value`` and ``name = value`` (query strings, INI, TOML, env files, connection strings),
  ``name: value`` (headers, YAML, list items too), ``"name": value`` and ``'name': value`` (JSON and reprs,
  whatever the value is: string, bytes, number, list, dict), ``--name value``, ``<ns:name a="…">value</ns:name>``
  (CDATA too), name/value pairs (``"name": "DB_PASSWORD", "value": …``) and botocore's ``parameter Name,
  value: …``, percent-encoded (``%3D``) or escaped into HTML (``&quot;``, ``&lt;``) too, and names typed in fullwidth
  forms (U+FF01 to U+FF5E). Under cookie keys every cookie value is masked; under query-string keys every parameter
  value.
* **Forms.** Secrets recognisable by their form wherever they appear: URL credentials, bearer and basic
  credentials, JWTs, private-key blocks, and the token formats of gitleaks' and detect-secrets' rules.

``LAMBDA_TRACER_REDACT_KEYS`` extends the words (``pin,ssn``), allow-lists keys (``-token_count``), or turns
redaction off (``none``). The policy is built once per value of the variable.

Cost is paid only where a secret can be. Every rule needs some lower-case substring to be present (a fragment of
a secret name, a token's prefix: ``_NEEDLES``), so a text is lower-cased once and searched for each: a text
without any is returned as it is, and each mask runs only when its own substrings are there. ``needs_mask`` first
searches a short sketch of the text (``Policy._sketch_clear``), which answers no for most texts at a fraction of
the cost, and searches the text itself only when the sketch may hold a needle. Key verdicts are
cached for text keys only (never objects, so nothing a user passes is kept alive), bounded and never cleared.
Every pattern runs in linear time: a pattern can only start where a lookbehind allows, repeats are bounded, and
values are scanned by hand up to a bound, so no string a caller passes can stall the function. The masks, their
patterns and that scanning are in redaction_masks.py, imported with the first text that needs a mask (most
functions' never do); what the gates need is in redaction_text.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from . import config
from .redaction_text import (
    _FOLD,
    _SKETCH,
    _USERINFO_GATE,
    MASK_MARGIN,
    MAX_VALUE_CHARS,
    REDACTED,
    compiled,
    sketch_needles,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from typing import Any

    from .redaction_text import _Sketched

    #: ``_Sketched`` with the needles of ``Policy._ungated`` moved to the text's, and how many of them it holds.
    _Needles = tuple[str, ...]
    _Searched = tuple[_Needles, _Needles, _Needles, _Needles, tuple[tuple[str, str], ...], int]

#: What a key can hold, as far as redaction goes. COUNTS: a secret, unless the value is a number
#: (``max_tokens``, ``input_tokens``: the token counts of language-model APIs).
PLAIN, SECRET, COOKIE, QUERY, COUNTS = 0, 1, 2, 3, 4

#: Whole words that name a secret.
SECRET_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "pass", "pw", "passphrase", "passcode",
        "secret", "secrets", "token", "jwt", "bearer", "auth", "authorization",
        "credential", "credentials", "creds", "signature", "sig", "csrf", "xsrf", "session", "dsn",
        "cvv", "cvc", "otp", "totp", "hotp",
    }
)  # fmt: skip
#: Stems that name a secret anywhere in the key's joined words (``dbpassword``, ``pass_word``, ``api_key``).
SECRET_STEMS = (
    "password", "passwd", "passphrase", "passcode", "secret", "token", "credential", "signature",
    "authorization", "apikey", "privatekey", "accesskey", "accountkey", "sessionid", "connectionstring", "connstr",
    "signingkey", "encryptionkey", "masterkey", "hmackey", "cardverification", "codeverifier", "privkey",
    # One-time and recovery codes, and what stands for a password in an OAuth client's or a SAML login's request.
    "mfacode", "verificationcode", "recoverycode", "backupcode", "clientassertion", "samlresponse",
)  # fmt: skip
#: Last words that make a key describe a secret rather than hold it (``token_type``, ``secret_name``).
DESCRIPTORS = frozenset(
    {
        "type", "types", "count", "length", "len", "size", "expires", "expiry", "expiration", "ttl",
        "policy", "required", "enabled", "name", "arn", "hint", "format", "version", "at", "url", "uri",
        "duration", "timeout", "status", "time", "use", "used", "source", "units", "scope", "start", "tags",
        "context", "issuer", "method", "provider", "list", "stages", "check",
    }
)  # fmt: skip
#: Words that hold a secret word's letters and name no secret (``tokenizer``, ``secretary``).
NOT_SECRET_WORDS = frozenset(
    {"tokenizer", "tokenizers", "tokenize", "tokenized", "tokenization", "secretary", "secretariat"}
)
#: Words that make a key hold cookies (values masked one by one, names kept).
COOKIE_WORDS = frozenset({"cookie", "cookies"})
#: Last words that, after ``query``, make a key hold a whole query string (``rawQueryString``,
#: ``queryStringParameters``; and OpenTelemetry's ``url.query``): every value is masked there, names kept.
QUERY_LAST_WORDS = frozenset({"string", "parameters", "params"})
#: Parameter names whose value is always user input, whatever field it was for (pydantic's messages).
ALWAYS_MASKED_PARAMETERS = frozenset({"inputvalue"})
#: Longest key judged (longer ones are judged on this prefix and not cached) and text masked at once.
MAX_KEY_CHARS = 256
_CACHE_SIZE = 4096
#: A cached key's facts: its verdict in the low bits, and whether its own text needs masking.
_VERDICT_BITS, _MASKABLE = 7, 8

# Patterns are compiled on first use (``compiled``): compiling all of them costs more at import than most cold
# starts ever use, and texts that none of them could change never reach them (``Policy.needs_mask``).
_WORD = r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[^\W\d_A-Za-z]+"
_NOT_ALNUM = r"[^A-Za-z0-9]+"
#: Substrings without which no rule can apply to a text, each checked with ``in`` (much cheaper per character
#: than one regex of alternatives). In the lower-cased text: fragments of the default secret names that survive any
#: separator a text may put inside a name (``pass_word``, ``x-api-key``, ``Api Key``; ``%`` for ``api%5Fkey``;
#: ``\\u`` for ``\\u0070assword`` in JSON), credential schemes, the base64 flag and SQL's encryption functions.
_NEEDLES = (
    "pass", "pw", "secret", "token", "jwt", "bearer", "basic", "auth", "cred", "sig", "csrf", "xsrf", "session",
    "dsn", "cookie", "query", "key", "conn", "input", "cvv", "cvc", "otp", "verifi", "curl", "securestring", "mfa",
    "recovery", "backup", "assertion", "saml",
    'isbase64encoded":true', 'isbase64encoded": true', 'isbase64encoded\\":true', 'isbase64encoded\\": true', "%",
    "\\u", "identified", "aes_encrypt", "aes_decrypt", "pgp_sym_",
)  # fmt: skip
#: In the text as it is (the patterns are case-sensitive, so ``Asia/Tokyo`` or ``through`` trigger nothing): what
#: every token format, JWT and private-key block begins with.
_FORM_NEEDLES = (
    "eyJ", "-----BEGIN", "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "glpat-", "gldt-", "glptt-", "glrt-", "xox", "xapp-", "hooks.slack.com", "k_live_", "k_test_", "AIza", "npm_",
    "pypi-", "SG.", "sk-", "sq0",
)  # fmt: skip
#: Fullwidth letters (U+FF21 to U+FF5A, as an input method types them): a text holding none names no secret in them (so
#: fullwidth digits and punctuation, common in Japanese text, cost one search). Such a text is folded (``_folded``): the
#: fullwidth forms of ASCII's printable characters, and the ideographic space (U+3000), so a value still ends where it
#: did.
_FULLWIDTH = "[\uff21-\uff3a\uff41-\uff5a]"
#: What makes ``mask_text`` fold a text: a fullwidth letter, or a fullwidth ``:`` or ``=`` (U+FF1A, U+FF1D: after an
#: ASCII name too). Folding a colon or an equals sign creates no needle, so ``needs_mask`` folds for letters only.
_FULLWIDTH_NAMED = "[\uff1a\uff1d\uff21-\uff3a\uff41-\uff5a]"
_fullwidth_fold: dict[int, int] | None = None  # made on first use: a cold start never needs it


def _folded(text: str) -> str:
    """Fullwidth ``password=x`` -> ``password=x``, every other character kept."""
    global _fullwidth_fold
    if _fullwidth_fold is None:
        _fullwidth_fold = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
    return text.translate(_fullwidth_fold)


#: Characters of sketch pieces remembered as holding no needle (about that many bytes), and the longest remembered.
_CLEAN_CHARS, _CLEAN_PIECE_CHARS = 262_144, 1024
#: Short texts found clean are remembered whole, the first ``_CLEAN_TEXTS`` of them (a small response that comes back
#: every invocation, ``{"statusCode": 200}``, is then one set lookup).
_CLEAN_TEXTS, _CLEAN_TEXT_CHARS = 256, 1024


def words(key: str) -> tuple[str, ...]:
    """``"X-Amz-Security-Token"`` -> ``("x", "amz", "security", "token")``; ``"clientSecret"`` -> (client, secret)."""
    key = key[:MAX_KEY_CHARS]
    if not key.isascii():
        key = _normalized(key)
    return tuple(word.lower() for word in compiled(_WORD).findall(key))


def _normalized(key: str) -> str:
    """Fullwidth and other compatibility forms folded (NFKC), invisible format characters dropped."""
    import unicodedata  # only for keys that are not ASCII

    folded = unicodedata.normalize("NFKC", key)
    return "".join(char for char in folded if unicodedata.category(char) != "Cf")


def _joined(key: str) -> str:
    """The key's words run together (``"X-Api-Key"`` -> ``"xapikey"``), cheaply for ASCII keys."""
    key = key[:MAX_KEY_CHARS]
    if key.isascii():
        return compiled(_NOT_ALNUM).sub("", key).lower()
    return "".join(words(key))


def _key_text(key: object) -> str | None:
    """The text a dict key is judged by: text, bytes, or the text parts of a tuple (``("api", "key")``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key[:MAX_KEY_CHARS]).decode("utf-8", "replace")
    if isinstance(key, tuple):
        parts = [_key_text(part) for part in key[:8] if isinstance(part, (str, bytes))]
        return " ".join(part for part in parts if part)
    return None


def _alternation(items: Iterable[str]) -> str:
    return "|".join(re.escape(item) for item in sorted(set(items), key=len, reverse=True))


def _has_any(lowered: str, needles: tuple[str, ...] | list[str]) -> bool:
    for needle in needles:  # noqa: SIM110 (a loop: any() over a generator costs twice as much here)
        if needle in lowered:
            return True
    return False


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
        extra_words = [words(name) for name in extra]
        #: Extra names given by the user, as joined words ("pin", "ssn", "accountnumber").
        self.extra = frozenset("".join(name) for name in extra_words) - {""}
        self.allowed = frozenset("".join(words(name)) for name in allowed) - {""}
        self._verdicts: dict[str, int] = {}
        #: A key can only be other than PLAIN when its joined words hold one of these.
        self._key_gate = _alternation([*self.secret_words, *self.stems, "query", *self.extra])
        # A name in text: the default needles, and each extra name's longest word (``account`` of
        # ``account_number``), which survives any separator the text puts between its words.
        extra_needles = {max(name, key=len) for name in extra_words if name}
        self._needles = _NEEDLES + tuple(sorted(extra_needles - set(_NEEDLES)))
        #: What ``_sketch_clear`` searches for, built when a long text first comes (``_searched``), and the
        #: needles as ``sketch_needles`` gives them.
        self._sketch: _Searched | None = None
        self._sketched: _Sketched | None = None
        #: Pieces of sketches that hold no needle: about ``_CLEAN_CHARS`` characters of them, never cleared.
        self._clean: set[bytes] = set()
        self._clean_chars = 0
        #: Weak needles searched in every text (``_sketch_clear``): appended to before a piece holding their image is
        #: remembered, never rebuilt, so a thread that read ``_sketch`` before looking pieces up in ``_clean`` finds
        #: here, after, every needle whose image a piece it found remembered may hold.
        self._ungated: list[str] = []
        #: Whole texts that need no mask (``needs_mask``): at most ``_CLEAN_TEXTS``, never cleared.
        self._clean_texts: set[str] = set()

    # -- keys ------------------------------------------------------------------------------------

    def verdict(self, key: object) -> int:
        """PLAIN, SECRET, COOKIE, QUERY or COUNTS for a dict key.

        Text keys are cached (the same few come back on every invocation): at most ``_CACHE_SIZE`` of them, the
        first ones met, never cleared, so a response of thousands of distinct keys neither grows the cache nor
        empties it. Other keys are judged each time and never kept, so no user object stays alive here.
        """
        if type(key) is str:
            return self._key_facts(key) & _VERDICT_BITS
        text = _key_text(key)
        return PLAIN if text is None else self._judge_text(text)

    def key_needs_mask(self, key: str) -> bool:
        """Whether a key's own text could be masked (a URL with credentials as a ``put_metadata`` key)."""
        return bool(self._key_facts(key) & _MASKABLE) if type(key) is str else self.needs_mask(key)

    def _key_facts(self, key: str) -> int:
        """The verdict of a text key, with ``_MASKABLE`` set when its text needs masking (both cached)."""
        found = self._verdicts.get(key)
        if found is None:
            found = self._judge_text(key) | (_MASKABLE if self.needs_mask(key[:MAX_VALUE_CHARS]) else 0)
            if len(self._verdicts) < _CACHE_SIZE and len(key) <= MAX_KEY_CHARS:
                self._verdicts[key] = found
        return found

    def _judge_text(self, key: str) -> int:
        if not self.enabled or not compiled(self._key_gate).search(_joined(key)):
            return PLAIN
        return self._judge(words(key))

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
        if (
            joined.endswith("querystring")
            or joined == "urlquery"
            or ("query" in key_words[:-1] and key_words[-1] in QUERY_LAST_WORDS)
        ):
            return QUERY
        if NOT_SECRET_WORDS.intersection(key_words):
            key_words = tuple(word for word in key_words if word not in NOT_SECRET_WORDS)
            joined = "".join(key_words)
        if any(word in self.secret_words for word in key_words) or any(stem in joined for stem in self.stems):
            return COUNTS if key_words[-1].endswith("tokens") else SECRET
        return PLAIN

    def is_secret_name(self, name: str) -> bool:
        """Whether a parameter or flag name (``api_key``, ``--password``, ``api%5Fkey``) names a secret.

        Judged on its first ``MAX_KEY_CHARS`` characters, as any key: decoded from at most 12 times as many, what
        encodes that many (``%F0%9F%98%80``, one character of 12), not whole (an SSM ``Name`` of 6 MB, ``%41``
        repeated, took 0.6 s to decode for one dict)."""
        name = name.lstrip("-")[: 12 * MAX_KEY_CHARS]
        if "%" in name:
            from urllib.parse import unquote  # only for percent-encoded names

            name = unquote(name)
        return self.verdict(name) != PLAIN

    # -- text ------------------------------------------------------------------------------------

    def needs_mask(self, text: str) -> bool:
        """Whether ``mask_text`` could change ``text``: a search for each substring some mask needs (a fragment of
        a secret name, a token's prefix, ``//`` and ``@``); most texts answer no."""
        if not self.enabled or (text.__class__ is str and len(text) <= _CLEAN_TEXT_CHARS and text in self._clean_texts):
            return False
        if (not text.isascii() or not self._sketch_clear(text)) and (
            _has_any(text.lower(), self._needles) or _has_any(text, _FORM_NEEDLES)
        ):
            return True
        if "@" in text and compiled(_USERINFO_GATE).search(text) is not None:
            return True
        if not text.isascii() and compiled(_FULLWIDTH).search(text) and self.needs_mask(_folded(text)):
            return True
        if text.__class__ is str and len(text) <= _CLEAN_TEXT_CHARS and len(self._clean_texts) < _CLEAN_TEXTS:
            self._clean_texts.add(text)  # exact str only: a subclass's own __eq__/__hash__ would decide a lookup
        return False

    def _sketch_clear(self, text: str) -> bool:
        """True when no needle (of ``_needles`` in the lower-cased text, of ``_FORM_NEEDLES`` in the text) can be in
        this ASCII text; False when one may be (the needles are then searched as they are).

        The needles are searched in a sketch of the text rather than in the text: the text with digits and hex
        letters as ``#`` (``_SKETCH``: ids, times and hashes read alike), cut into records at ``},`` and these at
        commas, each distinct piece once, and only the pieces not already known to hold no needle (``_clean``: a
        response's keys, headers and the shapes of its records come back on every invocation). A needle in the
        text is, mapped the same way, inside one piece of its sketch (no needle holds a comma), so a needle absent
        from the new pieces is absent from the text. Needles that the mapping leaves with fewer than two letters
        (``cred`` reads ``#r##``, as in ``created``) would be in most sketches: they are searched in the text itself
        (``redaction_text.sketch_needles``), but only once their image is in a new piece, until a piece holding it
        is remembered clean (``_ungated``: listed before the piece is remembered, and read again after the pieces
        are looked up, so a piece another thread remembers meanwhile is never taken clean without it): texts that
        never read ``#v#`` never pay for ``cvc``. A record's piece is known clean only once each of its comma pieces is.
        """
        needles = self._sketch
        if needles is None:
            needles = self._sketch = self._searched()
        forms, named, in_text, in_lowered, gated, listed = needles
        if (in_lowered and _has_any(text.lower(), in_lowered)) or _has_any(text, in_text):
            return False
        clean = self._clean
        records = set(text.encode("ascii").translate(_SKETCH).split(b"},")).difference(clean)
        pieces = set(b"},".join(records).split(b",")).difference(clean) if records else records
        ungated = self._ungated
        if len(ungated) > listed:  # listed since ``needles`` was read: a piece found remembered above may read it
            if _has_any(text, ungated[listed:]):
                return False
            self._sketch = self._searched()
        if not records:
            return True
        if pieces:
            sketch = b",".join(pieces)
            # Searched as str: ``needle in bytes`` first tries the needle as an integer, and pays for the TypeError.
            folded = sketch.translate(_FOLD).decode("ascii")
            if _has_any(sketch.decode("ascii"), forms) or _has_any(folded, named):
                return False
            for image, needle in gated:
                if image in folded:
                    if needle in text:
                        return False
                    if needle not in ungated:  # its image is in pieces about to be remembered clean
                        ungated.append(needle)
                        self._sketch = self._searched()
        if self._clean_chars < _CLEAN_CHARS:
            self._remember(records, pieces)
        return True

    def _searched(self) -> _Searched:
        """The needles ``_sketch_clear`` searches: ``sketch_needles``', each of ``_ungated`` searched in the text
        rather than gated, and how many of those (another thread may list more meanwhile)."""
        sketched = self._sketched
        if sketched is None:
            sketched = self._sketched = sketch_needles(self._needles, _FORM_NEEDLES)
        forms, named, in_text, in_lowered, gated = sketched
        ungated = tuple(self._ungated)  # two threads may list a needle twice: searched once
        kept = tuple(pair for pair in gated if pair[1] not in ungated)
        return forms, named, in_text + tuple(dict.fromkeys(ungated)), in_lowered, kept, len(ungated)

    def _remember(self, *found: set[bytes]) -> None:
        """Keep pieces found clean, up to ``_CLEAN_CHARS`` characters in all."""
        for pieces in found:
            for piece in pieces:
                if len(piece) <= _CLEAN_PIECE_CHARS:
                    self._clean.add(piece)
                    self._clean_chars += len(piece) + 1
                    if self._clean_chars >= _CLEAN_CHARS:
                        return

    def mask_text(self, text: str, depth: int = 0) -> str:
        """Mask every secret this policy can recognise in free text; the rest of it is kept.

        ``depth``: how many percent-encodings or HTML escapings the text is inside (``redaction_encoded.mask_encoded``,
        ``mask_escaped``).

        A text holding fullwidth letters, colons or equals signs (``password=`` typed by an input method, or only its
        ``:``; an ASCII text never does, and ``isascii`` is one flag) is masked as it is, then folded to ASCII and
        masked again; when that second pass masks something, the text is recorded folded."""
        if not self.enabled:
            return text
        if text.isascii() or compiled(_FULLWIDTH_NAMED).search(text) is None:
            return self._masked(text, depth)
        masked = self._masked(text, depth)
        folded = _folded(masked)
        again = self._masked(folded, depth)
        return masked if again == folded else again

    def _masked(self, text: str, depth: int) -> str:
        lowered = text.lower()
        named = _has_any(lowered, self._needles)
        forms = _has_any(text, _FORM_NEEDLES)
        userinfo = "@" in text and compiled(_USERINFO_GATE).search(text) is not None
        if not named and not forms and not userinfo:
            return text
        from .redaction_masks import masked  # loaded with the first text that needs a mask

        return masked(self, text, lowered, named, forms, userinfo, depth)

    def names_secret(self, name: str) -> bool:
        """Whether a name found in text names a secret: ``is_secret_name``, spaces around it dropped, or a
        parameter whose value is always user input (``input_value``)."""
        stripped = name.lstrip("-").strip()
        return self.is_secret_name(stripped) or "".join(words(stripped)) in ALWAYS_MASKED_PARAMETERS

    def counts_only(self, name: str) -> bool:
        """Whether a name holds a secret unless its value is a number (``max_tokens``: COUNTS)."""
        return self.verdict(name) == COUNTS

    def mask_message(self, text: str, limit: int) -> str:
        """An exception message or any text quoting a URL: masked like any text, then every URL query value masked
        too (names kept; a path quoted without its host too, as urllib3's messages do), then cut to ``limit``
        (masking first, so that no secret is cut in two). Credentials first: a password holding ``?`` would begin a
        query, whose masking takes the ``@`` that shows them."""
        window = self.mask_text(text[: limit + MASK_MARGIN])
        if self.enabled and "?" in window and "/" in window:
            from .redaction_masks import masked_url_queries

            window = masked_url_queries(window)
        return window[:limit]

    def mask_cut(self, text: str, limit: int) -> str:
        """``text`` masked, then cut to ``limit``: the part past the cut is masked too, so no secret straddles it."""
        return self.mask_text(text[: limit + MASK_MARGIN])[:limit]

    def mask_under(self, verdict: int, value: object, limit: int) -> object:
        """What a value under a COOKIE or QUERY key becomes: names kept, every value masked.

        Strings are cut to ``limit`` first, so a huge header costs no more than a small one.
        """
        from .redaction_masks import mask_cookies, mask_query_string

        mask: Callable[[str], str] = mask_cookies if verdict == COOKIE else mask_query_string
        if isinstance(value, str):
            return mask(value[:limit])
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value[:1000]):
            return [mask(item[:limit]) for item in value[:1000]]
        if isinstance(value, dict):  # queryStringParameters, a cookie jar
            return {str(name)[:MAX_KEY_CHARS]: REDACTED for name in list(value)[:1000]}
        return REDACTED


#: Longest exception message that is recorded.
MAX_MESSAGE_CHARS = 1000


def exception_message(error: BaseException, policy: Policy) -> str:
    """The message of an exception as recorded (``recorded_message``)."""
    try:
        message = str(error)
    except Exception:
        return "<str() of the exception raised>"
    return recorded_message(type(error).__name__, message, policy)


def recorded_message(type_name: str, message: str, policy: Policy) -> str:
    """An exception's message as recorded (ours, or an X-Ray cause's): masked (every URL query value too), then cut,
    without a failed subprocess's command line, a refused header value, a failed statement's bind values or row."""
    message = parameters_hidden(header_value_hidden(command_hidden(type_name, message)))
    return policy.mask_message(row_values_hidden(message, policy), MAX_MESSAGE_CHARS)


def command_hidden(type_name: str, message: str) -> str:
    """``Command '…' returned non-zero exit status 1.`` -> ``Command [REDACTED] returned …``."""
    if type_name in ("CalledProcessError", "TimeoutExpired") and message.startswith("Command "):
        for tail in (" returned ", " died ", " timed out "):
            if tail in message:
                return f"Command {REDACTED}{tail}{message.rsplit(tail, 1)[1]}"
    return message


#: What an HTTP client writes before the header value it refused, which runs to the line's end (a repr holds no line
#: break): http.client's (under urllib3 and requests) ``Invalid header value b'…'``, h11's (httpx)
#: ``Illegal header value b'…'``, requests' ``… in header value: '…'`` and ``Header part (…) from (name, value) must
#: be of type …``, aiohttp's ``Cannot serialize non-str key …``.
_REFUSED_HEADER_VALUE = (
    r"(Invalid header value |Illegal header value | in header value: |Header part (?=\()|Cannot serialize non-str key )"
    r"[^\r\n]*"
)
#: The end of requests' ``Header part`` message, kept: the type it refused is no secret.
_TYPE_TOLD = r" must be of type str or bytes, not <class '[\w.]{1,256}'>$"


def header_value_hidden(message: str) -> str:
    """The header value an HTTP client's message quotes, replaced: a header holds an API key or a token as often as
    not, and the message quotes the value alone, with no name to recognise it by (``Invalid header value
    b'k-1\\n'`` -> ``Invalid header value [REDACTED]``)."""

    def hidden(match: re.Match[str]) -> str:
        told = compiled(_TYPE_TOLD).search(match.group(0)) if match.group(1).startswith("Header") else None
        return f"{match.group(1)}{REDACTED}{told.group(0) if told else ''}"

    if "eader " not in message and "non-str key " not in message:  # nearly every message: no regex run
        return message
    return compiled(_REFUSED_HEADER_VALUE).sub(hidden, message)


#: SQLAlchemy's line of a failed statement's bind values (``StatementError``), to its end (a repr holds no line break).
_STATEMENT_PARAMETERS = r"(?m)^\[parameters: [^\r\n]*"

#: What databases quote of the row a statement failed on: PostgreSQL's ``Failing row contains (…).`` (every column, by
#: position) and ``Key (cols)=(…) already exists.`` (and its other key messages, to their ``)`` or the line's end),
#: MySQL's ``Duplicate entry '…' for key 'table.index'``. A row with no ``)`` runs to its line's end; a ``Duplicate
#: entry '`` with no ``' for key '`` takes its line (looked at once more for the first two forms only): no later start
#: on a line is tried again, so the scan stays linear however many starts a crafted line repeats.
_FAILED_KEYED_ROW = (
    r"(?m)(Failing row contains \()(?:[^\r\n]*(?=\))|[^\r\n]*)"
    r"|([Kk]ey \(([^\r\n()]{1,1024})\)=\()[^\r\n]*?"
    r"(?=\) (?:already exists|is not present|is still referenced|conflicts with)|\)\.?[ \t]*$|$)"
)
_FAILED_ROW = _FAILED_KEYED_ROW + r"|(Duplicate entry ')(?:[^\r\n]*(?=' for key '([^'\r\n]{1,256})')|[^\r\n]*)"


def row_values_hidden(message: str, policy: Policy) -> str:
    """A failed row's values a database error quotes, replaced: all when by position, a key's when a column (or MySQL's
    index) names a secret. Returns (and scans) the first ``MAX_MESSAGE_CHARS + MASK_MARGIN``: all mask_message sees."""
    message = message[: MAX_MESSAGE_CHARS + MASK_MARGIN]
    if "ey (" not in message and "Failing row" not in message and "Duplicate entry" not in message:
        return message

    def hidden(match: re.Match[str]) -> str:
        groups: tuple[Any, ...] = (*match.groups(), None, None)  # _FAILED_KEYED_ROW has no entry and index
        row, key, columns, entry, index = groups[:5]
        if entry is not None and index is None:  # no ``' for key '`` on its line: no such message; the rest looked at
            return f"{entry}{compiled(_FAILED_KEYED_ROW).sub(hidden, match.group(0)[len(entry) :])}"
        names = columns.split(",") if key is not None else [index] if entry is not None else []
        if row is None and not any(policy.names_secret(name) for name in names):
            return match.group(0)
        return f"{row or key or entry}{REDACTED}"

    return compiled(_FAILED_ROW).sub(hidden, message)


def parameters_hidden(message: str) -> str:
    """SQLAlchemy's ``[parameters: ('ann', 'pw')]``, replaced: bind values by position, no name says what is secret."""
    if "[parameters: " not in message:  # nearly every message: no regex run
        return message
    return compiled(_STATEMENT_PARAMETERS).sub(f"[parameters: {REDACTED}]", message)


_current: tuple[object, Policy] | None = None
_REDACT_KEYS_KEY = config.environ_key(config.REDACT_KEYS)


def current() -> Policy:
    """The policy for ``LAMBDA_TRACER_REDACT_KEYS`` as it is now (built again only when it changes).

    Compared as ``config.ENVIRON`` keeps the variable (decoded only when it changed): read on every invocation.
    """
    global _current
    raw = config.ENVIRON.get(_REDACT_KEYS_KEY)
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
