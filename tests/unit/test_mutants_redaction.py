"""redaction.py pinned exactly: word splitting, verdicts, the cache, every text mask, cookies and query strings.

Written against the mutants `make mutation` left alive: each test states one exact output.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_tracer import redaction
from lambda_tracer.redaction import COOKIE, COUNTS, PLAIN, QUERY, REDACTED, SECRET, Policy

R = REDACTED


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
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "pin")
    first = redaction.current()
    assert first.verdict("pin") == SECRET
    assert redaction.current() is first
    monkeypatch.setenv("LAMBDA_TRACER_REDACT_KEYS", "none")
    assert redaction.current().enabled is False
    monkeypatch.delenv("LAMBDA_TRACER_REDACT_KEYS")
    policy = redaction.current()
    assert policy.enabled is True and policy.verdict("pin") == PLAIN
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


def test_is_secret_name() -> None:
    policy = Policy()
    assert policy.is_secret_name("--password") is True
    assert policy.is_secret_name("api%5Fkey") is True
    assert policy.is_secret_name("%70assword") is True
    assert policy.is_secret_name("page") is False
    assert policy.is_secret_name("-") is False
    assert policy.is_secret_name("--max_tokens") is True  # COUNTS is not PLAIN


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
    ("text", "expected"),
    [
        ("session=abc; Path=/; HttpOnly", f"session={R}; Path=/; HttpOnly"),
        ("a=1, b=2", f"a={R}, b={R}"),
        (
            "path=/x; Path=/y; Domain=.ex.com; Secure; Max-Age=10; SameSite=Lax; Priority=High; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            f"path={R}; Path=/y; Domain=.ex.com; Secure; Max-Age=10; SameSite=Lax; Priority=High; "
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT",
        ),
        ("abc", R),
        ("a=1; junk; Path=bad path", f"a={R}; {R}; Path={R}"),
        (" a= ; b", f" a={R}; {R}"),
        ("a=; b=", "a=; b="),
        ("a=1; Foo=bar; secure", f"a={R}; Foo={R}; secure"),
        ("x=1;  bare", f"x={R};  {R}"),
        ("secure", R),
        ("a=1; Secure=1", f"a={R}; Secure={R}"),
        ("a=1; Max-Age=x", f"a={R}; Max-Age={R}"),
        ("a=1; ; ", f"a={R}; ; "),
        ("", ""),
    ],
)
def test_mask_cookies(text: str, expected: str) -> None:
    assert redaction.mask_cookies(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("page=2&api_key=x&flag", f"page={R}&api_key={R}&{R}"),
        ("", ""),
        ("a=&b", f"a=&{R}"),
        ("&&", "&&"),
        ("a=1=2", f"a={R}"),
    ],
)
def test_mask_query_string(text: str, expected: str) -> None:
    assert redaction.mask_query_string(text) == expected


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


_LONG = "a" * (redaction.MAX_VALUE_CHARS + 100)


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
        # Counts under a ...tokens name are kept; anything else under it is masked.
        ("max_tokens=5", None),
        ("max_tokens: 5.5", None),
        ("max_tokens=-1e3", None),
        ("max_tokens=abc", f"max_tokens={R}"),
        ("access_token=123", f"access_token={R}"),
        ("password=null", None),
        ("password='None'", None),
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


def test_allowed_keys_are_matched_on_their_joined_words() -> None:
    assert redaction.from_setting(["-token_count"]).verdict("token_count") == PLAIN
    assert redaction.from_setting(["-token_count"]).verdict("Token-Count") == PLAIN
    assert redaction.from_setting(["-api_key"]).verdict("API-Key") == PLAIN
    assert Policy().verdict("API-Key") == SECRET


def test_a_string_cut_after_masking_its_window_is_marked_cut() -> None:
    from lambda_tracer import capture

    converter = capture._Converter(Policy(), 100)
    assert converter.convert("password=" + "a" * 5000) == f"password={R}"
    assert converter.cut is True  # the text past the masked window is not in the record


def test_secret_stems_are_found_across_words_left_out() -> None:
    assert Policy().verdict("tokenizer_api_key") == SECRET  # "tokenizer" is not a secret word; "apikey" is
    assert Policy().verdict("tokenizer_name") == PLAIN


def test_replaced_spans_touching_or_overlapping() -> None:
    assert redaction._replaced("abcdef", [(3, 5, "Y"), (0, 3, "X")]) == "XYf"
    assert redaction._replaced("abcdef", [(0, 3, "X"), (1, 4, "Y")]) == "Xef"
    assert redaction._replaced("abcdef", [(0, 4, "X"), (1, 2, "Y")]) == "Xef"
    assert redaction._replaced("abcdef", []) == "abcdef"


def test_botocore_messages_and_pairs_in_one_text() -> None:
    text = "parameter password, value: x, type: t and token=abc"
    assert Policy().mask_text(text) == f"parameter password, value: {R}, type: t and token={R}"
