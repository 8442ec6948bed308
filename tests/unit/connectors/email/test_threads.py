"""Given Message-ID, In-Reply-To and References as mailers write them, then ids normalize
and threads resolve to their first message."""

from __future__ import annotations

import pytest

from connectors.email.threads import (
    normalize_message_id,
    parse_id_list,
    references_for_reply,
    thread_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<Abc.123@Mail.Example.COM>", "Abc.123@mail.example.com"),
        ("  < abc@x.org >  ", "abc@x.org"),
        ("<abc@x.org> (Maria's message of Mon)", "abc@x.org"),
        ("no-brackets@Host.ORG", "no-brackets@host.org"),
        ("<local-only>", "local-only"),
        ("", None),
        ("<>", None),
        ("<" + "a" * 300 + "@x>", None),
        ("<a\x00b@x>", None),
    ],
)
def test_normalize_message_id(raw: str, expected: str | None) -> None:
    assert normalize_message_id(raw) == expected


def test_parse_id_list_keeps_order_and_drops_repeats_and_junk() -> None:
    value = "<r@A.com>\r\n <p@b.com> junk <r@a.com> <q@c.com>"
    assert parse_id_list(value) == ("r@a.com", "p@b.com", "q@c.com")
    assert parse_id_list("r@a.com p@b.com word") == ("r@a.com", "p@b.com")
    assert parse_id_list(None) == ()


def test_thread_is_the_first_reference_else_in_reply_to_else_own_id() -> None:
    assert thread_id("me@x", "parent@x", ("root@x", "parent@x")) == "root@x"
    assert thread_id("me@x", "parent@x", ()) == "parent@x"
    assert thread_id("me@x", None, ()) == "me@x"


def test_references_for_reply_append_the_parent() -> None:
    assert references_for_reply(["root@x", "a@x"], "b@x") == ("root@x", "a@x", "b@x")


def test_references_for_reply_use_the_thread_root_when_parent_references_are_unknown() -> None:
    assert references_for_reply([], "b@x", thread_root="root@x") == ("root@x", "b@x")
    assert references_for_reply([], "root@x", thread_root="root@x") == ("root@x",)


def test_references_are_capped_keeping_the_root_and_the_latest() -> None:
    parents = [f"m{i}@x" for i in range(30)]
    refs = references_for_reply(parents, "parent@x", cap=5)
    assert refs == ("m0@x", "m27@x", "m28@x", "m29@x", "parent@x")
