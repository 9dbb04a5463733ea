"""The masks that change a text: the patterns, the scanning that finds where a value in text starts and ends, and
the spans they mask. Loaded with the first text that needs a mask (``redaction.Policy.mask_text``): most texts never
reach them.

``redaction.Policy`` decides which names are secret; ``masked`` runs, on a text its gate let through, each mask
whose substrings are there, asking the policy about each name it finds. Here: the patterns (compiled on first use),
the scan of a value after a name (``_value_span``: quoted, bracketed or bare, JSON held in JSON too), positions
found once per text (``_Lines``), the merge of masked spans (``redaction_text.replaced``), and the masks of names
and values, cookies, query strings and credentials (percent-encoded text and text escaped into HTML:
redaction_encoded.py). Every scan is linear in the text and bounded by ``MAX_VALUE_CHARS``, so no string a caller
passes can stall the function.
"""

from __future__ import annotations

import re

from .redaction_text import MAX_VALUE_CHARS, REDACTED, URL_USERINFO, compiled
from .redaction_text import replaced as _replaced

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at a cold start
if TYPE_CHECKING:
    from .redaction import Policy


#: Cookie attributes (after the cookie itself, in Set-Cookie) and what their values look like: kept, because they
#: describe the cookie; anything else, a cookie named ``path`` in a Cookie header included, is masked.
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


# Patterns are compiled on first use (``compiled``): compiling all of them costs more than most invocations ever use.
#: A name and what separates it from its value; the value itself is scanned by ``_value_end``. A string prefix
#: (``b'``, ``r"``) is taken only before a quote, so a bare name keeps its first letter (``bearer=``,
#: ``recovery_code:``). Quoted names (JSON, reprs, TOML, PHP arrays; ``\\"name\\"`` in JSON held in JSON too) take
#: ``:``, ``=``, ``=>`` or ``,`` (an argument list's ``'--password', '…'``); bare names take ``=``/``=>`` with any
#: spacing, ``:`` before a space or a quote (``password: x`` but not ``arn:aws:secretsmanager:…``).
_PAIR = (
    r"(?:(?<![\w.%\\])[bBuUrR]?(?=[\"'\\])|(?<![\w.%\-\\]))(?:"
    r"(\\{0,15})([\"'])(-{0,2}[^\"'\\\r\n]{1,128})\1\2[ \t]*(=>|[:=,])\s{0,16}"
    r"|(-{0,2})([A-Za-z_%][\w.%\-\[\]]{0,127})(?:[ \t]*(=>?)(?!=)[ \t]*|[ \t]*(:)(?![:/])[ \t]*)"
    r")"
)
#: ``--password value``: a flag and the word after it.
_FLAG_VALUE = r"(?<![\w\-])(--?[A-Za-z][A-Za-z0-9_.\-]{0,63})([ \t]+)([^\s\"'\-][^\s\"']*)"
#: Name/value pairs held as two fields (``"name": "DB_PASSWORD", "value": …``; SSM's ``SecureString``), in JSON
#: or a repr: up to the value's start.
_NAMED_VALUE = (
    r"(\\{0,15})(?:([\"'])(?:Name|name|Key|key|ParameterKey|ParameterName|OptionName|Type)\1\2\s*[:=]\s*\1[\"']"
    r"([^\"'\\\r\n]{1,256})\1[\"']\s*,\s*\1[\"'](?:Value|value|ParameterValue)\1[\"']\s*[:=]\s*"
    # XML attributes (``<add key="ApiKey" value="…"/>``) and YAML pairs (Kubernetes' ``- name: X\n  value: …``)
    r"|\s(?:key|name)=([\"'])([^\"'<>\r\n]{1,256})\4\s+value="
    r"|(?<![\w-])name:[ \t]*[\"']?([\w.\-/]{1,256})[\"']?[ \t]*\r?\n[ \t]*(?:-[ \t]+)?value:[ \t]*)"
)
#: A secret name and a quoted value after spaces (SQL's ``CREATE USER app WITH PASSWORD 'x'``, ``token "x"``), and
#: SQL's ``IDENTIFIED BY x`` (quoted or not; MySQL's ``IDENTIFIED WITH plugin BY 'x'`` too), MySQL's ``SET PASSWORD
#: [FOR user] = x`` and SQLCipher's ``PRAGMA [schema.]key = x`` (``rekey``, ``hexkey``, ``key(x)``): up to the value's
#: start.
_SPACED_VALUE = (
    r"(?<![\w.\-])(?:((?i:identified)(?:[ \t]+(?i:with)[ \t]+[\"'`]?\w{1,64}[\"'`]?)?[ \t]+(?i:by))[ \t]+"
    r"|([A-Za-z_][\w\-]{0,63})(?=[ \t]+[\"'])[ \t]+"
    r"|((?i:set[ \t]+password)(?:[ \t]+(?i:for)[ \t][^=;\r\n]{1,256})?[ \t]*="
    r"|(?i:pragma)[ \t]+(?:\w{1,64}\.)?(?i:(?:hex)?(?:re)?key)[ \t]*[=(])[ \t]*)"
)
#: MySQL's old password after a new one (``IDENTIFIED BY 'new' REPLACE 'old'``), from the new one's end.
_REPLACED = r"[\"']?[ \t]+(?i:replace)[ \t]+(?=[\"'])"
#: MySQL's ``AES_ENCRYPT(str, key)``, ``AES_DECRYPT`` and pgcrypto's ``pgp_sym_encrypt(data, password)``,
#: ``pgp_sym_decrypt``: up to the first argument; the key is the second (``_keyed_call_spans``).
_KEYED_CALL = r"(?<![\w.])(?i:aes_(?:en|de)crypt|pgp_sym_(?:en|de)crypt(?:_bytea)?)[ \t]*\([ \t]*"
_ARGUMENT_SEPARATOR = r"[\"']?[ \t]*,[ \t]*(\\{0,15}(?=[\"'])|)"  # and a quote's escapes (JSON's ``\"k\"``)
#: A key argument that holds no literal: a bind parameter, a variable or a column (kept).
_NO_LITERAL = r"\?|%s|%\(\w{1,64}\)s|[:$@]\w{1,64}|[A-Za-z_][\w.]{0,128}"
#: Percent-encoded ``=``, ``:``, ``@`` and ``%`` and HTML-escaped quotes and ``<`` (lower case; ``&#0``/``&#x0`` for
#: numbers padded with zeros, JSTL's ``&#034;`` and PHP's ``&#039;``): a text holding one may hold an encoded name and
#: value, URL or credentials, or JSON or XML escaped into HTML (redaction_encoded.py), decoded and masked up to
#: ``ENCODED_DEPTH`` encodings deep.
ENCODED_SEPARATORS = ("%3d", "%3a", "%40", "%25")
ESCAPED_STRUCTURE = ("&quot;", "&#34;", "&#x22;", "&#39;", "&#x27;", "&apos;", "&lt;", "&#60;", "&#x3c;", "&#0", "&#x0")
ENCODED_DEPTH = 3
#: A ``multipart/form-data`` part: from the header naming its field to the blank line before the field's value.
_FORM_PART = r'(?i:form-data);[ \t]{0,8}name="([^"\r\n]{1,256})"[^\r\n]{0,256}(?:\r?\n[^\r\n]{1,256}){0,4}\r?\n\r?\n'
#: botocore's ParamValidationError quotes the value it rejects: ``Invalid type for parameter SecretString, value:``.
_BOTOCORE_PARAMETER = r"parameter ([\w.\[\]\-]{1,256}), value: "
_BEARER = r"(?i)\b(bearer|basic|authorization\s*[:=]\s*\w+)(\s+)([A-Za-z0-9._~+/=\-]{6,})"
_CREDENTIAL_LIKE = r"[0-9+/=A-Z]"
_JWT = r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
_PRIVATE_KEY = r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)[^\-]*"
#: Token formats, after gitleaks' rules and detect-secrets' plugins: AWS access key ids, GitHub, GitLab, Slack
#: (tokens and webhooks), Stripe secret and restricted keys, Google API keys, npm, PyPI, SendGrid, OpenAI and
#: Anthropic keys, Square. Each starts with a fixed prefix, which its gate looks for (``_FORM_NEEDLES``).
_TOKENS = (
    r"(?<![A-Za-z0-9_\-])(?:"
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"
    r"|gh[pousr]_[A-Za-z0-9_]{30,255}|github_pat_[A-Za-z0-9_]{22,255}"
    r"|gl(?:pat|dt|ptt|rt)-[A-Za-z0-9_\-]{20,255}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,255}|xapp-[0-9]-[A-Za-z0-9\-]{10,255}"
    r"|(?:hooks\.slack\.com/(?:services|workflows)/)[A-Za-z0-9_/]{20,200}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|npm_[A-Za-z0-9]{36}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,255}"
    r"|SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}"
    r"|sk-(?:proj-|ant-(?:api|admin)[0-9]{2}-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,255}"
    r"|sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,60}"
    r")"
)
#: What a bare value after a name ends at (outside a line of its own, where it runs to the line's end).
_BARE_END = r'[ \t\r\n&;,"(]'
_BARE_END_IN_STRUCTURE = r"[ \t\r\n&;,\"(')\]}>]"
_BARE_END_IN_CONNECTION = r'[\r\n&;"(]'
_BRACKET_CHARS = r"[\"'\[\](){}\\]"
#: Credential schemes whose next word is the credential (``Authorization: Bearer abc``).
_SCHEMES = frozenset({"bearer", "basic", "digest", "token", "apikey", "negotiate", "aws4-hmac-sha256", "sharedkey"})
_KEPT_VALUES = frozenset({"null", "none", "true", "false", "nil", "undefined", "[redacted]", ""})
_XML_OPEN = r"<((?:[A-Za-z_][\w.\-]{0,63}:)?([A-Za-z_][\w.\-]{0,63}))(?:\s[^<>]{0,1024})?>"
_XML_NAME_ATTRIBUTE = r"\s(?:key|name)\s*=\s*[\"']([^\"'<>]{1,256})[\"']"
_URL_QUERY = (
    r"(?:(?<![\w+.\-/:])[A-Za-z][\w+.\-]{0,31}://[^\s?#\"'<>]{0,2048}|(?<![^\s\"'=(])/[^\s?#\"'<>=()]{0,2048})"
    r"\?([^\s#\"'<>]{1,8192})"
)
_COOKIE_SPLIT = r"(;|,(?=\s*[^\s;,=]+=))"
_LINE_START = r"[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _value_span(
    text: str, start: int, line: bool, equals: bool, escapes: str, lines: _Lines, closers: bool
) -> tuple[int, int, bool] | None:
    """Where the value that starts at ``start`` ends: ``(start, end, quoted)``, or None for no value.

    A quoted value (``\\"`` in JSON held in JSON too) runs to its closing quote (a triple-quoted one, TOML's and
    Python's, to its closing three), a bracketed one (a list, a dict, a tuple) to its closing bracket, anything else to
    a separator: the line's end for a line of its own (YAML, INI, headers), the next ``;`` for ``name=value`` in a
    connection string, else a space or punctuation. Nothing is looked at past ``MAX_VALUE_CHARS``.
    """
    size = len(text)
    if start >= size or text.startswith(REDACTED, start):
        return None
    first = text[start]
    if first in "bBrRuU":  # a string prefix: b'…', r"…", rb'…'
        quote_at = start + 1 + (text[start + 1 : start + 2] in ("b", "B", "r", "R"))
        if text[quote_at : quote_at + 1] in ('"', "'"):
            start = quote_at
            first = text[start]
    limit = min(size, start + MAX_VALUE_CHARS)
    if escapes and text.startswith(escapes, start) and text[start + len(escapes) : start + len(escapes) + 1] in "\"'":
        quote_at = start + len(escapes)
        return (quote_at + 1, _closing_quote(text, quote_at + 1, text[quote_at], len(escapes), limit), True)
    if first in "\"'":
        if text.startswith(first * 3, start):  # ``password = """…"""``: not an empty string and a quote
            return (start + 3, min(lines.next(first * 3, start + 3), limit), True)
        return (start + 1, _closing_quote(text, start + 1, first, 0, limit), True)
    if first in "[({":
        return (start, _closing_bracket(text, start, limit, len(escapes)), False)
    line_end = min(lines.line_end(start), limit)
    if line:
        return (start, line_end, False) if line_end > start else None
    semicolons = equals and lines.next(";", start) < line_end
    # After a quoted name (JSON, a repr) a closing bracket ends it too; in a connection string, only ``;`` does.
    ends = _BARE_END_IN_STRUCTURE if closers else _BARE_END_IN_CONNECTION if semicolons else _BARE_END
    found = compiled(ends).search(text, start, line_end)
    end = line_end if found is None else found.start()
    if end == start:
        return None
    if text[end : end + 1] == "(":  # a call in a repr: ``SecretStr('…')``, ``bytearray(b'…')``
        end = _closing_bracket(text, end, limit, len(escapes))
    if text[start:end].lower() in _SCHEMES and text[end : end + 1] == " ":  # ``Authorization: Bearer abc``
        credential = end + 1
        if text.startswith(REDACTED, credential):
            return None  # the credential is already masked
        end = credential
        found = compiled(_BARE_END).search(text, credential, line_end)
        end = line_end if found is None else found.start()
        return (credential, end, False) if end > credential else None  # the scheme is kept
    return (start, end, False)


class _Lines:
    """Positions in one text found once and reused, so that masking stays linear however many names it has."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._found: dict[str, int] = {}
        self._line_end = -1

    def next(self, needle: str, start: int) -> int:
        """Index of the next ``needle`` at or after ``start``, or the text's length."""
        found = self._found.get(needle, -1)
        if found < start:
            found = self.text.find(needle, start)
            found = len(self.text) if found < 0 else found
            self._found[needle] = found
        return found

    def line_end(self, start: int) -> int:
        if self._line_end < start:
            self._line_end = min(self.next("\n", start), self.next("\r", start))
        return self._line_end

    def starts_line(self, position: int) -> bool:
        """Whether only indentation, a YAML list dash or ``export`` stand before ``position`` on its line."""
        line_start = max(self.text.rfind("\n", max(0, position - 256), position), -1)
        line_start = max(line_start, self.text.rfind("\r", max(0, position - 256), position)) + 1
        if position - line_start >= 256:
            return False
        return compiled(_LINE_START).fullmatch(self.text, line_start, position) is not None

    def block_after(self, start: int) -> tuple[int, int, bool] | None:
        """The indented lines after a YAML ``name:`` or ``name: |`` (a block scalar or a nested value)."""
        text = self.text
        end = self.line_end(start)
        line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
        prefix = text[line_start:start]
        indent = len(prefix) - len(prefix.lstrip(" \t-"))
        position = end
        while position < len(text) and position - start < MAX_VALUE_CHARS:
            following = text.find("\n", position + 1)
            following = len(text) if following < 0 else following
            line = text[position + 1 : following]
            if line.strip() and len(line) - len(line.lstrip(" \t")) <= indent:
                break
            position = following
        return (start, position, False) if position > start else None


def _closing_quote(text: str, start: int, quote: str, escapes: int, limit: int) -> int:
    """Index of the quote that closes a string opened before ``start`` (escaped ``escapes`` times), or ``limit``."""
    position = start
    while position < limit:
        found = text.find(quote, position, limit)
        if found < 0:
            return limit
        backslashes = 0
        while found - backslashes - 1 >= start and text[found - backslashes - 1] == "\\":
            backslashes += 1
        if _quote_at_level(backslashes, escapes):
            return found - escapes
        position = found + 1
    return limit


def _quote_at_level(backslashes: int, escapes: int) -> bool:
    """Whether a quote after ``backslashes`` backslashes opens or closes a string of a text escaped ``escapes``
    times (JSON held in JSON: one level is ``\\"``, an escaped backslash before it doubles at each level)."""
    return backslashes >= escapes and (backslashes - escapes) % (2 * escapes + 2) == 0


def _closing_bracket(text: str, start: int, limit: int, escapes: int) -> int:
    """Index just past the bracket that closes the one at ``start`` (strings inside skipped), or ``limit``.

    In a text escaped ``escapes`` times a string's quotes carry that many backslashes; any other quote is
    content. Only brackets, quotes and backslashes are looked at (found in C), so a long value costs little.
    """
    depth, quote, resume = 0, "", start
    for match in compiled(_BRACKET_CHARS).finditer(text, start, limit):
        position = match.start()
        if position < resume:
            continue  # inside a run of backslashes already counted
        char = text[position]
        if char == "\\":
            run = position
            while run < limit and text[run] == "\\":
                run += 1
            resume = run + 1
            if run == limit or text[run] not in "\"'" or not _quote_at_level(run - position, escapes):
                continue  # an escaped character opens or closes nothing
            char = text[run]
        elif escapes and char in "\"'":
            continue  # an unescaped quote in JSON held in JSON: part of a string
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
            if depth == 0:
                return position + 1
    return limit


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.groups()
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{user}:{REDACTED}@" if colon else f"{scheme}{REDACTED}@"


def masked_url_queries(text: str) -> str:
    """Every URL query value in ``text`` masked, the names kept (``Policy.mask_message``); a path's of its own too
    (urllib3's ``with url: /x?key=…``), from a space, quote, ``=`` or ``(``, which it holds none of: linear."""
    return compiled(_URL_QUERY).sub(_mask_url_query, text)


def _mask_url_query(match: re.Match[str]) -> str:
    return match.group(0)[: match.start(1) - match.start()] + mask_query_string(match.group(1))


def _mask_credential(match: re.Match[str]) -> str:
    """``Bearer <token>``; ``Basic <credential>`` only when the word looks like one (base64 has digits, ``+/=``
    or capitals inside), so ``basic information`` stays as it is."""
    scheme, space, credential = match.groups()
    if scheme.lower() == "basic" and not compiled(_CREDENTIAL_LIKE).search(credential[1:]):
        return match.group(0)
    return f"{scheme}{space}{REDACTED}"


def mask_cookies(text: str) -> str:
    """``"session=abc; Path=/; HttpOnly"`` -> ``"session=[REDACTED]; Path=/; HttpOnly"``.

    The first part is always the cookie, even one named like an attribute; a part without ``=`` that is
    not an attribute (``"abc"`` alone) is masked whole.
    """
    parts = compiled(_COOKIE_SPLIT).split(text)
    for index in range(0, len(parts), 2):
        name, equals, value = parts[index].partition("=")
        attribute = name.strip().lower()
        if index > 0 and (
            (equals and attribute in COOKIE_ATTRIBUTES and compiled(COOKIE_ATTRIBUTES[attribute]).fullmatch(value))
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


def masked(policy: Policy, text: str, lowered: str, named: bool, forms: bool, userinfo: bool, depth: int) -> str:
    """``Policy.mask_text`` past its gate: every mask whose substrings are in the text (``lowered``: the text
    lower-cased; ``named``: a secret name's needle is in it; ``forms``: a token format's; ``userinfo``: URL
    credentials may be). ``depth``: how many percent-encodings or HTML escapings the text is inside
    (redaction_encoded.py)."""
    if "bearer" in lowered or "basic" in lowered or "auth" in lowered:
        text = compiled(_BEARER).sub(_mask_credential, text)
    # Names before token formats: a value is masked whole, whatever token it starts with
    # (``credentials=AKIA…:secret``).
    if named:
        text = _replaced(text, _name_spans(policy, text, lowered))
    if forms:
        text = compiled(_TOKENS).sub(REDACTED, text)
        if "eyJ" in text:
            text = compiled(_JWT).sub(REDACTED, text)
        if "-----BEGIN" in text:
            text = compiled(_PRIVATE_KEY).sub(rf"\1{REDACTED}", text)
    if userinfo:
        text = compiled(URL_USERINFO).sub(_mask_userinfo, text)
    encoded = "%" in text and any(separator in lowered for separator in ENCODED_SEPARATORS)
    escaped = "&" in text and any(escape in lowered for escape in ESCAPED_STRUCTURE)
    if (encoded or escaped) and depth < ENCODED_DEPTH:
        from .redaction_encoded import mask_encoded, mask_escaped  # only for texts holding encoded structure

        def mask(decoded: str) -> str:
            return policy.mask_text(decoded, depth + 1)

        if encoded:
            text = mask_encoded(text, mask, policy.needs_mask)
        if escaped:
            text = mask_escaped(text, mask, policy.needs_mask)
    return text


def _name_spans(policy: Policy, text: str, lowered: str) -> list[tuple[int, int, str]]:
    """Every value after a secret name, in each text form (see redaction.py's docstring). ``lowered``: the text
    lower-cased before any mask, a gate only (a mask never adds ``identified``)."""
    spans: list[tuple[int, int, str]] = []
    if "=" in text or ":" in text or "," in text:
        spans += _pair_spans(policy, text)
    if "value" in text or "Value" in text:
        spans += _named_value_spans(policy, text)
    if "parameter " in text:
        spans += _botocore_spans(policy, text)
    if "form-data" in lowered:
        spans += _form_part_spans(policy, text)
    if "<" in text:
        spans += _element_spans(policy, text)
    if "-" in text:
        spans += _flag_spans(policy, text)
    if "'" in text or '"' in text or "identified" in lowered or "pragma" in lowered:
        spans += _spaced_spans(policy, text)
    if "crypt" in lowered:
        spans += _keyed_call_spans(text)
    return spans


def _pair_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    resume = 0  # names inside a value already masked are not looked at again: linear in the text
    lines = _Lines(text)
    pattern = compiled(_PAIR)
    while (match := pattern.search(text, resume)) is not None:
        resume = match.end()
        escapes, quote, quoted_name, quoted_sep, dashes, name, equals, colon = match.groups()
        name = quoted_name if quote else f"{dashes}{name}"
        if colon and text[match.start() - 1 : match.start()] in (":", "/", "@"):
            continue  # ``arn:aws:secretsmanager:…:secret:prod/db``, a path: not a name and its value
        if not policy.names_secret(name):
            continue
        start = match.end()
        if quote and quoted_sep == ",":
            # An argument list (``'--password', 's'``) or a pair (``("api_key", k)``): a string must follow.
            paired = text[match.start() - 1 : match.start()] in ("(", "[")
            string_follows = text[start : start + 3].lstrip("bBuUrR")[:1] in ('"', "'")  # rb'…' too
            if not (name.startswith("-") or paired) or not string_follows:
                continue
        line = not quote and bool(colon or " " in match.group(0)) and lines.starts_line(match.start())
        if colon and not quote and line and text[start : start + 1] in ("", "\n", "\r", "|", ">"):
            found = lines.block_after(start)  # YAML: ``password: |`` or ``password:`` and indented lines
        else:
            equals_sign = equals is not None and not quote
            found = _value_span(text, start, line, equals_sign, escapes or "", lines, closers=bool(quote))
        if found is not None and not _kept_value(policy, name, text[found[0] : found[1]]):
            # A number, list or dict after a quoted name becomes a string, so JSON stays JSON.
            quoted = f"{escapes or ''}{quote}"  # JSON held in JSON escapes its quotes: so does the mask
            spans.append((found[0], found[1], REDACTED if found[2] or not quote else f"{quoted}{REDACTED}{quoted}"))
            resume = found[1]
    return spans


def _named_value_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    spans = []
    resume = 0  # pairs inside a value already masked are not looked at again: linear in the text
    lines = _Lines(text)
    for match in compiled(_NAMED_VALUE).finditer(text):
        if match.start() < resume:
            continue
        named = match.group(3) or match.group(5) or match.group(6)
        secret = named == "SecureString" or policy.names_secret(named.rstrip("/").rsplit("/", 1)[-1])
        # After a quoted pair (JSON, a repr) a closing bracket ends a bare value (``"Value": null}``).
        closers = match.group(2) is not None
        found = _value_span(text, match.end(), False, False, match.group(1), lines, closers) if secret else None
        if found is not None and text[found[0] : found[1]].lower() not in _KEPT_VALUES:
            # A number, list or dict after a quoted pair becomes a string, so JSON stays JSON.
            quoted = f"{match.group(1)}{match.group(2)}" if closers and not found[2] else ""
            spans.append((found[0], found[1], f"{quoted}{REDACTED}{quoted}"))
            resume = found[1]
    return spans


def _botocore_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    spans = []
    lines = _Lines(text)
    for match in compiled(_BOTOCORE_PARAMETER).finditer(text):
        name = re.split(r"[.\[\]]+", match.group(1).strip(".[]"))[-1]
        if policy.names_secret(name):
            start = match.end()
            end = min(lines.next(", type: ", start), lines.next(", valid ", start), lines.line_end(start))
            spans.append((start, min(end, start + MAX_VALUE_CHARS), REDACTED))
    return spans


def _form_part_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    """A secret-named ``multipart/form-data`` field's value, to its part's boundary line (or, lacking one, a ``--``)."""
    spans: list[tuple[int, int, str]] = []
    for match in compiled(_FORM_PART).finditer(text):
        start, reach = match.end(), max(0, match.start() - 256)
        if (not spans or match.start() >= spans[-1][1]) and policy.names_secret(match.group(1)):  # once: linear
            head = max(text.rfind("\n", reach, match.start()), 0)  # the boundary is on the line before the header's
            opened = text[max(text.rfind("\n", reach, head) + 1, reach) : head].strip()
            end = text.find(f"\n{opened}" if opened.startswith("--") else "\n--", start, start + MAX_VALUE_CHARS)
            end = min(len(text), start + MAX_VALUE_CHARS) if end < 0 else end - (text[end - 1 : end] == "\r")
            spans += [(start, end, REDACTED)] if end > start else []
    return spans


def _element_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    """``<password>x</password>``, ``<wsse:Password Type="…">x</wsse:Password>``, CDATA: the content."""
    spans = []
    lines = _Lines(text)
    for match in compiled(_XML_OPEN).finditer(text):
        named = compiled(_XML_NAME_ATTRIBUTE).search(match.group(0))  # <entry key="password">, <param name=…>
        if not policy.names_secret(match.group(2)) and not (named and policy.names_secret(named.group(1))):
            continue
        start = match.end()
        if text.startswith("<![CDATA[", start):
            end = min(lines.next("]]>", start) + 3, len(text))
        else:
            end = lines.next("<", start)
        end = min(end, start + MAX_VALUE_CHARS)
        if end > start and not text.startswith(REDACTED, start):
            spans.append((start, end, REDACTED))
    return spans


#: How far back on its line ``curl`` is looked for before a ``-u``/``--user`` flag.
_CURL_REACH = 1024


def _flag_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    """The value after a flag that names a secret (``--password x``), and the password of curl's ``-u user:password``
    (``--user``; the user kept), when ``curl`` is on the flag's line not too far before it (so ``docker -u 1000:1000``
    stays). Each part of the text is looked back at once, however many flags it holds: linear in the text."""
    spans: list[tuple[int, int, str]] = []
    seen, curl_at, line_at = 0, -1, -1  # looked back as far as ``seen``: the last ``curl`` and line break before it
    for match in compiled(_FLAG_VALUE).finditer(text):
        flag, value = match.group(1), match.group(3)
        if policy.is_secret_name(flag):
            spans.append((*match.span(3), REDACTED))
        elif flag in ("-u", "--user") and ":" in value:
            start = match.start()
            window = max(seen, start - _CURL_REACH)
            curl_at = max(curl_at, text.rfind("curl", window, start))
            line_at = max(line_at, text.rfind("\n", window, start), text.rfind("\r", window, start))
            seen = start
            colon = match.start(3) + value.index(":") + 1
            if line_at < curl_at and start - curl_at <= _CURL_REACH and colon < match.end(3):
                spans.append((colon, match.end(3), REDACTED))
    return spans


def _spaced_spans(policy: Policy, text: str) -> list[tuple[int, int, str]]:
    """``PASSWORD 'x'``, ``token "x"`` (a name ``Policy.names_secret`` says is secret, spaces, a quoted value) and
    ``IDENTIFIED [WITH plugin] BY x`` (``… REPLACE 'old'``), ``SET PASSWORD … = x``, ``PRAGMA key = x``: SQL as an
    OpenTelemetry ``db.statement`` records it, and prose alike; the values to mask, but those ``_kept_value`` keeps."""
    spans: list[tuple[int, int, str]] = []
    resume = 0  # names inside a value already masked are not looked at again: linear in the text
    lines = _Lines(text)
    for match in compiled(_SPACED_VALUE).finditer(text):
        identified, name, sql = match.groups()
        if match.start() < resume or not (identified or sql or policy.names_secret(name)):
            continue
        start = match.end()
        prose = identified is not None and not (identified[:10] + identified[-2:]).isupper()  # the keywords
        if prose and text[start : start + 3].lstrip("bBuUrR")[:1] not in ("'", '"'):
            continue  # not scanned: a bracket there could run to the text's end, for every ``identified by`` in it
        escaped = compiled(r"\\{1,15}(?=[\"'])").match(text, start)  # JSON's ``\"pw\"``: its escapes with its quote
        found = _value_span(text, start, False, False, escaped[0] if escaped else "", lines, closers=False)
        if found is not None and prose and not found[2]:
            continue  # ``identified by the team``: a bare word is a password only after SQL's ``IDENTIFIED BY``
        if found is not None and not _kept_value(policy, name or "password", text[found[0] : found[1]]):
            spans.append((found[0], found[1], REDACTED))
            resume = found[1]
            old = compiled(_REPLACED).match(text, resume)  # ``… REPLACE 'old'``: MySQL's current password
            found = _value_span(text, old.end(), False, False, "", lines, closers=False) if old else None
            if found is not None:
                spans.append((found[0], found[1], REDACTED))
                resume = found[1]
    return spans


def _keyed_call_spans(text: str) -> list[tuple[int, int, str]]:
    """The key argument of SQL's encryption functions (``AES_ENCRYPT(str, 'key')``) when it holds a literal (``'k'``,
    ``UNHEX('…')``, ``X'…'``); a bind parameter or a column is kept. Each call's first argument is scanned once."""
    spans: list[tuple[int, int, str]] = []
    resume = 0
    lines = _Lines(text)
    for match in compiled(_KEYED_CALL).finditer(text):
        if match.start() < resume:
            continue
        first = _value_span(text, match.end(), False, False, "", lines, closers=True)
        resume = match.end() if first is None else first[1]
        comma = compiled(_ARGUMENT_SEPARATOR).match(text, resume)
        key = _value_span(text, comma.start(1), False, False, comma[1], lines, closers=True) if comma else None
        if key is None:
            continue
        start, end, quoted = key
        if not quoted and text[end : end + 1] in ("'", '"'):  # ``X'…'``, ``_utf8mb4'…'``: a literal
            end = min(_closing_quote(text, end + 1, text[end], 0, min(len(text), end + MAX_VALUE_CHARS)) + 1, len(text))
        elif not quoted and compiled(_NO_LITERAL).fullmatch(text, start, end):
            continue
        spans.append((start, end, REDACTED))
        resume = end
    return spans


def _kept_value(policy: Policy, name: str, value: str) -> bool:
    """``null``/``true`` after a secret name (that it is missing or set), and counts under ``…tokens``."""
    bare = value.strip(" \t\"'").lower()
    if bare in _KEPT_VALUES:
        return True
    return policy.counts_only(name) and _is_number(bare)  # dashes and spaces are not words: not judged
