"""The widget's wire protocol: given the bytes of a frame, when the server parses it, then a
typed frame or the error frame to send back; the server's frames serialize to the JSON the
widget reads."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.webchat.protocol import (
    ClientFrame,
    ClientMessage,
    ClientRead,
    ClientResume,
    ClientTyping,
    ServerAck,
    ServerError,
    ServerFrame,
    ServerMessage,
    ServerRead,
    ServerTyping,
    parse_client_frame,
    rate_limited_error,
    serialize_client_frame,
    serialize_server_frame,
)

MESSAGE_ID = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)


def error(raw: bytes | str, **limits: int) -> ServerError:
    outcome = parse_client_frame(raw, **limits)
    assert isinstance(outcome, ServerError), outcome
    return outcome


@pytest.mark.parametrize(
    ("raw", "frame"),
    [
        (
            b'{"type":"message","client_message_id":"c-1","text":"oi, preciso de ajuda"}',
            ClientMessage(client_message_id="c-1", text="oi, preciso de ajuda"),
        ),
        (b'{"type":"typing","active":true}', ClientTyping(active=True)),
        (b'{"type":"read","up_to_message_id":"m-9"}', ClientRead(up_to_message_id="m-9")),
        (b'{"type":"resume","last_seen_seq":41}', ClientResume(last_seen_seq=41)),
        ('{"type":"typing","active":false}', ClientTyping(active=False)),  # a text frame
    ],
)
def test_each_client_frame_parses_into_its_type(raw: bytes | str, frame: ClientFrame) -> None:
    assert parse_client_frame(raw) == frame


def test_a_message_keeps_its_text_exactly_with_accents_emoji_and_newlines() -> None:
    text = "Bom dia!\nMeu filho foi preso 😢\tpreciso de ajuda"
    raw = orjson.dumps({"type": "message", "client_message_id": "c-2", "text": text})

    assert parse_client_frame(raw) == ClientMessage("c-2", text)


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b"[1, 2]", "malformed_json", None),
        (b'"message"', "malformed_json", None),
        (b"", "malformed_json", None),
        (b'{"text": "oi"}', "missing_field", "type"),
        (b'{"type": "shout"}', "unknown_type", "type"),
        (b'{"type": 7}', "unknown_type", "type"),
        (b'{"type": "message", "text": "oi"}', "missing_field", "client_message_id"),
        (b'{"type": "message", "client_message_id": "c-1"}', "missing_field", "text"),
        (
            b'{"type": "message", "client_message_id": "c-1", "text": "oi", "agent_id": "a-1"}',
            "invalid_field",
            "agent_id",
        ),
        (
            b'{"type": "message", "client_message_id": "", "text": "oi"}',
            "invalid_field",
            "client_message_id",
        ),
        (
            b'{"type": "message", "client_message_id": "c 1", "text": "oi"}',
            "invalid_field",
            "client_message_id",
        ),
        (b'{"type": "message", "client_message_id": "c-1", "text": 42}', "invalid_field", "text"),
        (
            b'{"type": "message", "client_message_id": "c-1", "text": "   "}',
            "invalid_field",
            "text",
        ),
        (
            b'{"type": "message", "client_message_id": "c-1", "text": "a\\u0000b"}',
            "invalid_field",
            "text",
        ),
        (b'{"type": "typing", "active": 1}', "invalid_field", "active"),
        (b'{"type": "resume", "last_seen_seq": -1}', "invalid_field", "last_seen_seq"),
        (b'{"type": "resume", "last_seen_seq": 1.5}', "invalid_field", "last_seen_seq"),
        (b'{"type": "resume", "last_seen_seq": true}', "invalid_field", "last_seen_seq"),
        (
            b'{"type": "resume", "last_seen_seq": 9007199254740992}',
            "invalid_field",
            "last_seen_seq",
        ),
        (b'{"type": "read", "up_to_message_id": null}', "invalid_field", "up_to_message_id"),
    ],
)
def test_a_malformed_frame_gets_an_error_naming_the_code_and_field(
    raw: bytes, code: str, field: str | None
) -> None:
    outcome = error(raw)

    assert (outcome.code, outcome.field) == (code, field)
    assert outcome.reason


def test_an_oversized_frame_is_refused_before_it_is_read() -> None:
    raw = b'{"type":"message","client_message_id":"c-1","text":"' + b"a" * 200 + b'"}'

    assert error(raw, max_frame_bytes=100).code == "oversized"
    assert error(raw.decode(), max_frame_bytes=100).code == "oversized"


def test_a_text_over_its_own_limit_is_oversized_on_the_text_field() -> None:
    raw = orjson.dumps({"type": "message", "client_message_id": "c-1", "text": "ã" * 60})

    outcome = error(raw, max_text_bytes=100)  # 120 bytes of UTF-8, fewer characters

    assert (outcome.code, outcome.field) == ("oversized", "text")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"message","client_message_id":"c-1","text":"ol\xc3\x28a"}',
        b"\xff\xfe{}",
        '{"type":"message","client_message_id":"c-1","text":"\ud800"}',  # a lone surrogate
    ],
)
def test_invalid_utf8_is_refused_as_such(raw: bytes | str) -> None:
    assert error(raw).code == "invalid_utf8"


def test_an_escaped_lone_surrogate_in_json_is_not_accepted_as_text() -> None:
    raw = b'{"type":"message","client_message_id":"c-1","text":"\\ud800"}'

    assert error(raw).code in {"malformed_json", "invalid_utf8"}


def test_server_frames_serialize_to_the_json_the_widget_reads() -> None:
    sent_at = datetime(2026, 3, 2, 11, 0, 5, 123456, tzinfo=UTC)
    frames: list[ServerFrame] = [
        ServerMessage(seq=3, message_id="m-3", sender="agent", text="Olá!", sent_at=sent_at),
        ServerMessage(7, "m-7", "visitor", "oi", sent_at, client_message_id="c-1"),
        ServerAck(client_message_id="c-1", message_id="m-7", seq=7),
        ServerTyping(active=True),
        ServerRead(up_to_message_id="m-7"),
        ServerError("invalid_field", "text: text is a string", field="text"),
        rate_limited_error(0.12345),
    ]

    assert [orjson.loads(serialize_server_frame(f)) for f in frames] == [
        {
            "type": "message",
            "seq": 3,
            "message_id": "m-3",
            "sender": "agent",
            "text": "Olá!",
            "sent_at": "2026-03-02T11:00:05.123Z",
        },
        {
            "type": "message",
            "seq": 7,
            "message_id": "m-7",
            "sender": "visitor",
            "text": "oi",
            "sent_at": "2026-03-02T11:00:05.123Z",
            "client_message_id": "c-1",
        },
        {"type": "ack", "client_message_id": "c-1", "message_id": "m-7", "seq": 7},
        {"type": "typing", "active": True},
        {"type": "read", "up_to_message_id": "m-7"},
        {
            "type": "error",
            "code": "invalid_field",
            "reason": "text: text is a string",
            "field": "text",
        },
        {
            "type": "error",
            "code": "rate_limited",
            "reason": "too many messages: wait before sending again",
            "retry_after": 0.123,
        },
    ]


CLIENT_FRAMES = st.one_of(
    st.builds(
        ClientMessage,
        client_message_id=MESSAGE_ID,
        text=st.text(
            st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=200
        ).filter(str.strip),
    ),
    st.builds(ClientTyping, active=st.booleans()),
    st.builds(ClientRead, up_to_message_id=MESSAGE_ID),
    st.builds(ClientResume, last_seen_seq=st.integers(0, 2**53 - 1)),
)


@settings(max_examples=100, deadline=None)
@given(frame=CLIENT_FRAMES)
def test_every_valid_client_frame_parses_back_to_itself(frame: ClientFrame) -> None:
    assert parse_client_frame(serialize_client_frame(frame)) == frame


@settings(max_examples=150, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_parsing_arbitrary_input_never_raises(raw: bytes | str) -> None:
    assert isinstance(parse_client_frame(raw), ClientFrame | ServerError)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["message", "typing", "read", "resume", "other"]),
    fields=st.dictionaries(
        st.sampled_from(
            ["client_message_id", "text", "active", "up_to_message_id", "last_seen_seq", "x"]
        ),
        JSON_VALUES,
        max_size=4,
    ),
)
def test_parsing_any_json_object_shaped_like_a_frame_never_raises(
    kind: str, fields: dict[str, object]
) -> None:
    raw = orjson.dumps({"type": kind, **fields})

    assert isinstance(parse_client_frame(raw), ClientFrame | ServerError)


# -- files ------------------------------------------------------------------------------

FILE = {
    "attachment_id": "0b5c4a1e-8d0f-5a3b-9c2d-1e2f3a4b5c6d",
    "sha256": "ab" * 32,
    "size_bytes": 2048,
    "media_type": "image/jpeg",
    "file_name": "comprovante de residência.jpg",
    "storage_ref": "media/" + "cd" * 32,
}


def message_with(**fields: object) -> bytes:
    return orjson.dumps({"type": "message", "client_message_id": "c-9", **fields})


def test_a_message_may_carry_files_with_or_without_text() -> None:
    alone = parse_client_frame(message_with(attachments=[FILE]))
    with_text = parse_client_frame(message_with(text="segue meu RG", attachments=[FILE]))

    assert isinstance(alone, ClientMessage)
    assert isinstance(with_text, ClientMessage)
    assert (alone.text, with_text.text) == (None, "segue meu RG")
    assert [a.file_name for a in alone.attachments] == ["comprovante de residência.jpg"]
    assert alone.attachments == with_text.attachments
    assert parse_client_frame(serialize_client_frame(alone)) == alone


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({}, "missing_field", "text"),
        ({"attachments": []}, "invalid_field", "attachments"),
        ({"attachments": None}, "invalid_field", "attachments"),
        ({"attachments": [FILE] * 6}, "invalid_field", "attachments"),
        ({"attachments": [FILE, FILE]}, "invalid_field", "attachments"),
        (
            {"attachments": [FILE, {**FILE, "sha256": "x"}]},
            "invalid_field",
            "attachments[1].sha256",
        ),
        ({"attachments": [{**FILE, "extra": 1}]}, "invalid_field", "attachments[0].extra"),
        ({"attachments": [FILE], "text": " "}, "invalid_field", "text"),
    ],
    ids=["nothing", "empty", "null", "six", "twice", "bad sha", "unknown key", "blank text"],
)
def test_a_message_with_bad_files_is_refused_naming_the_field(
    fields: dict[str, object], code: str, field: str
) -> None:
    refused = error(message_with(**fields))

    assert (refused.code, refused.field) == (code, field)


def test_five_files_with_the_longest_names_and_text_fit_in_a_frame() -> None:
    files = [
        {**FILE, "attachment_id": f"0b5c4a1e-8d0f-5a3b-9c2d-1e2f3a4b5c6{n}", "file_name": "ç" * 255}
        for n in range(5)
    ]

    frame = parse_client_frame(message_with(text="a" * 4096, attachments=files))

    assert isinstance(frame, ClientMessage)


def test_a_message_with_files_shows_their_id_name_type_and_size_not_where_they_are() -> None:
    read = parse_client_frame(message_with(attachments=[FILE]))
    assert isinstance(read, ClientMessage)
    shown = ServerMessage(
        seq=3,
        message_id="m-3",
        sender="agent",
        text="",
        sent_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        attachments=read.attachments,
    )

    assert orjson.loads(serialize_server_frame(shown))["attachments"] == [
        {
            "attachment_id": FILE["attachment_id"],
            "file_name": "comprovante de residência.jpg",
            "media_type": "image/jpeg",
            "size_bytes": 2048,
        }
    ]
