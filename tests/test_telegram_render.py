"""Turn → Telegram messages, without a network."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram_render import (
    BUTTONS_ONLY_TEXT,
    MAX_CALLBACK_DATA_BYTES,
    CallbackPayloads,
    bold_entities,
    render_reply,
    render_turn,
    split_text,
    telegram_length,
)
from bot.turns import Button, Reply, Turn


def test_buttons_become_inline_keyboard_on_the_last_message() -> None:
    payloads = CallbackPayloads()
    reply = Reply("Ready?", [Button("Yes", "/affirm"), Button("No", "/deny")])
    [message] = render_reply(reply, payloads)
    assert message.kind == "text" and message.text == "Ready?"
    rows = message.reply_markup.inline_keyboard
    assert [[(b.text, b.callback_data) for b in row] for row in rows] == [
        [("Yes", "/affirm"), ("No", "/deny")]
    ]


def test_long_button_titles_stack_one_per_row() -> None:
    reply = Reply("Which?", [Button("My lower back hurts", "/a"), Button("My glutes are tired", "/b")])
    [message] = render_reply(reply, CallbackPayloads())
    assert [len(row) for row in message.reply_markup.inline_keyboard] == [1, 1]


def test_long_payload_is_mapped_to_a_short_key_and_back() -> None:
    payloads = CallbackPayloads()
    long_payload = '/inform{"exercise":"single_leg_glute_bridge_with_band_and_pause","sets":3}'
    assert len(long_payload.encode()) > MAX_CALLBACK_DATA_BYTES
    key = payloads.encode(long_payload)
    assert len(key.encode()) <= MAX_CALLBACK_DATA_BYTES
    assert payloads.decode(key) == long_payload
    assert payloads.encode("/affirm") == "/affirm" and payloads.decode("/affirm") == "/affirm"


def test_mapping_is_bounded_and_forgets_the_oldest() -> None:
    payloads = CallbackPayloads(capacity=2)
    keys = [payloads.encode(f"/inform{'x' * 70}{i}") for i in range(3)]
    assert payloads.decode(keys[0]) is None
    assert payloads.decode(keys[2]) == f"/inform{'x' * 70}2"


def test_a_payload_that_looks_like_a_key_is_mapped_too() -> None:
    payloads = CallbackPayloads()
    key = payloads.encode("#p:literal")
    assert key != "#p:literal" and payloads.decode(key) == "#p:literal"


def test_text_is_sent_verbatim_with_markup_characters() -> None:
    # No parse mode is used, so Markdown/HTML characters are not special and cannot break a message.
    text = "Hips *level*, <b>not</b> [tilted](x) _ok_ & 5 > 3"
    [message] = render_reply(Reply(text), CallbackPayloads())
    assert message.text == text


def test_image_is_a_photo_before_its_text() -> None:
    messages = render_reply(Reply("Your week", image="/tmp/chart.png"), CallbackPayloads())
    assert [(m.kind, m.path, m.text) for m in messages] == [
        ("photo", "/tmp/chart.png", ""),
        ("text", None, "Your week"),
    ]


def test_image_with_buttons_only_carries_the_keyboard() -> None:
    [message] = render_reply(Reply("", [Button("More", "/more")], image="/tmp/c.png"), CallbackPayloads())
    assert message.kind == "photo" and message.reply_markup is not None


def test_buttons_without_text_get_a_prompt() -> None:
    [message] = render_reply(Reply("", [Button("OK", "/affirm")]), CallbackPayloads())
    assert message.text == BUTTONS_ONLY_TEXT and message.reply_markup is not None


def test_empty_reply_sends_nothing() -> None:
    assert render_turn(Turn("1", "x", replies=[Reply("  ")]), CallbackPayloads()) == []


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "a" * 3000
    assert split_text(f"{paragraph}\n\n{paragraph}") == [paragraph, paragraph]
    line = "b" * 3000
    assert split_text(f"{line}\n{line}") == [line, line]
    words = " ".join(["word"] * 2000)  # 9999 characters, no newline
    parts = split_text(words)
    assert len(parts) == 3 and all(p.startswith("word") and p.endswith("word") for p in parts)
    assert " ".join(parts) == words


def test_split_counts_utf16_like_telegram() -> None:
    text = "💪" * 3000  # 6000 UTF-16 code units, no spaces
    parts = split_text(text)
    assert "".join(parts) == text
    assert all(telegram_length(p) <= 4096 for p in parts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab é💪")) , min_size=0, max_size=300),
        min_size=1,
        max_size=8,
    ).map("\n".join),
    st.integers(min_value=20, max_value=400),
)
def test_split_never_exceeds_the_limit_and_loses_no_words(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(0 < telegram_length(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_bold_names_are_entities_counted_in_utf16_and_the_text_stays_verbatim() -> None:
    text = "👋 1/3: Bird dog <b>x</b> — 2 x 8. Bird dog again."
    [message] = render_reply(Reply(text, bold=["Bird dog", "not in the text"]), CallbackPayloads())
    assert message.text == text  # no parse mode: markup characters are not touched
    [entity] = message.entities
    assert (entity.type, entity.offset, entity.length) == ("bold", 8, 8)  # the emoji counts twice


def test_bold_follows_the_part_of_a_split_text_it_stands_in() -> None:
    paragraph = ("word " * 199 + "end.").strip()
    text = "\n\n".join([paragraph] * 5 + ["Last: Clamshell"])
    messages = render_reply(Reply(text, bold=["Clamshell"]), CallbackPayloads())
    assert len(messages) > 1 and not any(m.entities for m in messages[:-1])
    [entity] = messages[-1].entities
    assert messages[-1].text[entity.offset:entity.offset + entity.length] == "Clamshell"


def test_bold_entities_of_nothing() -> None:
    assert bold_entities("plain", []) == ()
