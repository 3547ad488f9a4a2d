"""Prompt limits: the bounds themselves, and that the prompt path applies them even when a caller does not."""
from __future__ import annotations

import pytest

from modules.prompting import limits
from modules.prompting.chunking import TokenizerAdapter, tokenize_line
from modules.prompting.conditioning import get_learned_conditioning, get_multicond_learned_conditioning
from modules.prompting.limits import (MAX_PROMPT_BREAKS, MAX_PROMPT_CHARS, MAX_PROMPT_NESTING, PromptLimitError,
                                      check_prompt_limits)
from modules.prompting.scheduling import get_learned_conditioning_prompt_schedules, prompt_schedule
from modules.prompting.sd_conditioning import SdConditioning
from modules.prompting.styles import StyleDatabase, apply_styles_to_prompt


@pytest.mark.parametrize("text", [
    "a" * MAX_PROMPT_CHARS,
    "(" * MAX_PROMPT_NESTING + "a",
    "[(" * (MAX_PROMPT_NESTING // 2) + "a",
    "BREAK " * MAX_PROMPT_BREAKS,
    "\\(" * (MAX_PROMPT_NESTING + 10),  # escaped brackets are text
    ")" * 500 + "(" * MAX_PROMPT_NESTING,  # stray closers do not make room for more openers
    "(a)" * 5000,  # depth 1, however many
    "",
])
def test_within_limits(text):
    check_prompt_limits(text)


@pytest.mark.parametrize("text,words", [
    ("a" * (MAX_PROMPT_CHARS + 1), ["characters", str(MAX_PROMPT_CHARS + 1), str(MAX_PROMPT_CHARS)]),
    ("(" * (MAX_PROMPT_NESTING + 1), ["nests", str(MAX_PROMPT_NESTING + 1), str(MAX_PROMPT_NESTING)]),
    ("{[(" * 22, ["nests", "66"]),
    ("BREAK " * (MAX_PROMPT_BREAKS + 1), ["BREAK", str(MAX_PROMPT_BREAKS + 1)]),
])
def test_over_limits(text, words):
    with pytest.raises(PromptLimitError) as info:
        check_prompt_limits(text, "negative_prompt")
    assert isinstance(info.value, ValueError)
    assert info.value.key == "negative_prompt"
    message = str(info.value)
    assert message.startswith("negative_prompt ")
    for word in words:
        assert word in message


def test_default_key_and_non_text():
    with pytest.raises(PromptLimitError) as info:
        check_prompt_limits("(" * 100)
    assert info.value.key == "prompt"
    check_prompt_limits(None)  # type: ignore[arg-type]  # not a prompt: nothing to bound


TOO_DEEP = "(" * (MAX_PROMPT_NESTING + 1) + "a"


def test_scheduling_checks_every_prompt():
    with pytest.raises(PromptLimitError) as info:
        get_learned_conditioning_prompt_schedules(["fine", TOO_DEEP], 20)
    assert info.value.key == "prompt"
    negative = SdConditioning(["fine", TOO_DEEP], is_negative_prompt=True)
    with pytest.raises(PromptLimitError) as info:
        get_learned_conditioning_prompt_schedules(negative, 20)
    assert info.value.key == "negative_prompt"
    with pytest.raises(PromptLimitError):
        prompt_schedule("x" * (MAX_PROMPT_CHARS + 1), 20)


class RecordingModel:
    def __init__(self):
        self.calls = []

    def get_learned_conditioning(self, texts):
        self.calls.append(list(texts))
        return [0.0] * len(texts)


@pytest.mark.parametrize("conditioning", [get_learned_conditioning, get_multicond_learned_conditioning])
def test_conditioning_refuses_before_encoding(conditioning):
    model = RecordingModel()
    with pytest.raises(PromptLimitError) as info:
        conditioning(model, SdConditioning(["ok", "BREAK " * (MAX_PROMPT_BREAKS + 1)], is_negative_prompt=True), 20)
    assert info.value.key == "negative_prompt"
    assert model.calls == []
    conditioning(model, ["ok AND fine"], 20)
    assert model.calls


def test_styles_cannot_grow_a_prompt_past_the_limit(tmp_path):
    doubling = "{prompt} {prompt}"
    assert apply_styles_to_prompt("cat", [doubling] * 3) == " ".join(["cat"] * 8)
    with pytest.raises(PromptLimitError) as info:
        apply_styles_to_prompt("cat", [doubling] * 40)  # 3 * 2**40 characters if nothing stopped it
    assert info.value.key == "prompt"
    with pytest.raises(PromptLimitError):
        apply_styles_to_prompt("x" * MAX_PROMPT_CHARS, ["one more"])

    (tmp_path / "styles.csv").write_text("name,prompt,negative_prompt\nTwice,{prompt} {prompt},{prompt} {prompt}\n",
                                         encoding="utf-8")
    db = StyleDatabase([str(tmp_path / "styles.csv")])
    assert db.apply_negative_styles_to_prompt("ugly", ["Twice"]) == "ugly ugly"
    with pytest.raises(PromptLimitError) as info:
        db.apply_negative_styles_to_prompt("ugly", ["Twice"] * 40)
    assert info.value.key == "negative_prompt"


def test_chunk_limit(monkeypatch):
    # One token per character, so the chunk count follows the text length.
    tokenizer = TokenizerAdapter(encode=lambda text: [7] * len(text), comma_token=None, id_start=1, id_end=2, id_pad=2)
    monkeypatch.setattr(limits, "MAX_PROMPT_CHUNKS", 3)
    chunks, count = tokenize_line("a" * 75 * 3, tokenizer)
    assert (len(chunks), count) == (3, 225)
    with pytest.raises(PromptLimitError, match="4 chunks"):
        tokenize_line("a" * (75 * 3 + 1), tokenizer)
    with pytest.raises(PromptLimitError):
        tokenize_line("a BREAK b BREAK c BREAK d", tokenizer)
