"""Secrets are masked in URLs, free text and argument structures."""

from __future__ import annotations

import pytest

from hauler.redact import MASK, redact, redact_text, redact_url, register_secret


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:hunter2@example.org/f", "http://user:***@example.org/f"),
        ("https://u:pw@[::1]:8443/p?q=1", "https://u:***@[::1]:8443/p?q=1"),
        ("https://example.org/a?apikey=abc&x=1", "https://example.org/a?apikey=***&x=1"),
        ("https://example.org/a?Api-Key=abc", "https://example.org/a?Api-Key=***"),
        (
            "https://example.org/a?token=t&password=p",
            "https://example.org/a?token=***&password=***",
        ),
        ("https://example.org/plain?x=1", "https://example.org/plain?x=1"),
        ("http://user@example.org/", "http://user@example.org/"),
        ("magnet:?xt=urn:btih:abc", "magnet:?xt=urn:btih:abc"),
        ("/local/path.nzb", "/local/path.nzb"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_finds_urls_and_pairs() -> None:
    text = (
        "ConnectionError: HTTPConnectionPool(host='h'): http://bob:hunter2@h:80/x failed; "
        "apikey=SECRETKEY token: tok123 and ['token:aria2secret']"
    )
    out = redact_text(text)
    for secret in ("hunter2", "SECRETKEY", "tok123", "aria2secret"):
        assert secret not in out
    assert "http://bob:***@h:80/x" in out


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("s3cr3t-value", "ab", None)
    assert redact_text("the key is s3cr3t-value.") == f"the key is {MASK}."
    assert redact_text("ab stays") == "ab stays"  # too short to register


def test_redact_structures() -> None:
    value = {
        "url": "http://u:pw@h/f",
        "password": "pw",
        "nested": [{"api_key": "k"}, "https://h/?sig=zzz"],
        "count": 3,
        "token": "",
    }
    assert redact(value) == {
        "url": "http://u:***@h/f",
        "password": MASK,
        "nested": [{"api_key": MASK}, "https://h/?sig=***"],
        "count": 3,
        "token": "",
    }
