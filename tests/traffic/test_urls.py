"""Target judgement: only hosts a browser would really visit on the registered domains pass."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from ada_url import URL
from hypothesis import given
from hypothesis import strategies as st

from hutong.traffic.urls import (
    InvalidTarget,
    append_query,
    host_matches,
    judge_web_target,
    passthrough_query,
)
from tests.traffic.corpus import open_redirect_payloads, wpt_cases

DOMAINS = ("tmall.com", "taobao.com", "tb.cn")


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("https://pages.tmall.com/wow/a/act/double11", "pages.tmall.com"),
        ("https://TMALL.com./x?y=1#frag", "tmall.com"),
        ("https://m.tb.cn/h.gDq8x", "m.tb.cn"),
        ("https://detail.tmall.com/item.htm?id=1", "detail.tmall.com"),
    ],
)
def test_registered_hosts_pass(raw: str, host: str) -> None:
    assert judge_web_target(raw, DOMAINS).host == host


@pytest.mark.parametrize(
    "raw",
    [
        "http://pages.tmall.com/",  # not https
        "https://pages.tmall.com@evil.com/",  # user-info trick: the host is evil.com
        "https://evil.com\\@pages.tmall.com/",
        "https://pages.tmall.com.evil.com/",
        "https://eviltmall.com/",  # suffix without a dot boundary
        "https://pages.tmall.com:8443/",
        "//pages.tmall.com/x",  # relative: no scheme
        "/\\/evil.com/",
        "javascript:alert(1)//tmall.com",
        "https://tmall\u3002com.evil.com/",  # full-width dot
        "https://evil.com/%2f..tmall.com",
        " https://pages.tmall.com/",
        "https://pages.tmall.com/\r\nLocation: https://evil.com",
    ],
)
def test_attacks_are_refused(raw: str) -> None:
    with pytest.raises(InvalidTarget):
        judge_web_target(raw, DOMAINS)


def test_whole_open_redirect_corpus_never_escapes_as_a_target() -> None:
    """Every payload is refused or judged to a registered host by a WHATWG parser."""
    accepted = 0
    payloads = open_redirect_payloads()
    assert len(payloads) > 300
    for payload in payloads:
        for candidate in (payload, "https:" + payload, "https://" + payload.lstrip("/")):
            try:
                judged = judge_web_target(candidate, DOMAINS)
            except InvalidTarget:
                continue
            accepted += 1
            assert host_matches(URL(judged.href).hostname, DOMAINS), candidate
    assert accepted > 0  # the corpus also holds harmless same-host forms


def test_judgement_agrees_with_the_whatwg_test_suite() -> None:
    """On every WPT case our host judgement equals the hostname WHATWG says a browser uses."""
    checked = 0
    for case in wpt_cases():
        if case.get("base") is not None or not isinstance(case.get("input"), str):
            continue
        domains = ("example.com", "example.org")
        try:
            judged = judge_web_target(case["input"], domains)
        except InvalidTarget:
            continue
        checked += 1
        assert not case.get("failure"), case["input"]
        assert case["protocol"] == "https:" and host_matches(case["hostname"], domains)
        assert judged.host == case["hostname"].rstrip(".")
    # and every case a browser would send to https on those domains is accepted
    for case in wpt_cases():
        if (
            case.get("base") is None
            and not case.get("failure")
            and case.get("protocol") == "https:"
            and host_matches(case.get("hostname", ""), ("example.com", "example.org"))
            and not case.get("username")
            and not case.get("password")
            and not case.get("port")
            and case["input"] == case["input"].strip()
            and not any(ord(c) < 0x20 for c in case["input"])
        ):
            assert judge_web_target(case["input"], ("example.com", "example.org"))
            checked += 1
    assert checked > 0


def test_urllib_would_have_been_fooled() -> None:
    """Why WHATWG: for these, urllib.parse reports the allowed host while browsers go elsewhere."""
    fooled = 0
    for payload in open_redirect_payloads():
        base = "https://pages.tmall.com/j/abc"
        try:
            browser = URL(payload, base=base).hostname
        except ValueError:
            continue
        python = urlsplit(payload).hostname or "pages.tmall.com"
        if browser != python and not host_matches(browser, DOMAINS):
            fooled += 1
    assert fooled > 100


PARAM_TEXT = st.text(min_size=0, max_size=40)


@given(st.lists(st.tuples(PARAM_TEXT, PARAM_TEXT), max_size=30))
def test_no_query_parameter_changes_the_destination(pairs: list[tuple[str, str]]) -> None:
    judged = judge_web_target("https://pages.tmall.com/act/d11?spm=a1#top", DOMAINS)
    location = append_query(
        judged.base, judged.fragment, passthrough_query(pairs, judged.own_params)
    )
    url = URL(location)
    assert url.hostname == "pages.tmall.com"
    assert url.pathname == "/act/d11"
    assert url.hash == "#top"
    assert url.search.startswith("?spm=a1")
