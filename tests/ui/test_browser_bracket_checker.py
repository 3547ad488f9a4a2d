"""The built-in "prompt-bracket-checker" extension: a token counter turns red while its prompt's brackets don't balance."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py):
# it only types into the prompts
SHARED_TAB = "prompts-and-generation"

ROUND_AND_SQUARE = ("(...) - Detected 1 opening and 0 closing round brackets.\n"
                    "[...] - Detected 1 opening and 0 closing square brackets.")
RED = "rgba(255, 0, 0, 0.4)"


def assert_counter(page, counter_id: str, error: bool, title: str = "") -> None:
    """The counter has class ``error`` (or not) and tooltip ``title``, waiting up to 10 s for the page to catch up."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    state = (f"() => {{ const c = document.getElementById('{counter_id}');"
             " return [c.classList.contains('error'), c.title]; }")
    try:
        # compact separators: the text must equal what JSON.stringify makes of the page's answer
        expected = json.dumps([error, title], separators=(",", ":"), ensure_ascii=False)
        page.wait_for_function(f"() => JSON.stringify(({state})()) === {json.dumps(expected)}", timeout=10000)
    except PlaywrightTimeout:
        pass  # the assertion shows what the counter has instead
    assert page.evaluate(state) == [error, title]


def border_colour(page, counter_id: str) -> str:
    return page.evaluate(f"() => getComputedStyle(document.querySelector('#{counter_id} span')).borderTopColor")


def type_prompt(page, box_id: str, text: str) -> None:
    box = page.locator(f"#{box_id} textarea")
    box.fill("")
    box.press_sequentially(text)


def test_txt2img_counters_turn_red_on_unbalanced_brackets(module_page):
    page, errors = module_page
    page.click("#tab_txt2img-button")
    type_prompt(page, "txt2img_prompt", "(a [b")
    assert_counter(page, "txt2img_token_counter", True, ROUND_AND_SQUARE)
    assert border_colour(page, "txt2img_token_counter") == RED  # the extension's style draws it red
    assert_counter(page, "txt2img_negative_token_counter", False)

    type_prompt(page, "txt2img_prompt", "(a) [b]")
    assert_counter(page, "txt2img_token_counter", False)
    assert border_colour(page, "txt2img_token_counter") != RED

    type_prompt(page, "txt2img_neg_prompt", "{x}} (y)")
    assert_counter(page, "txt2img_negative_token_counter", True,
                   "{...} - Detected 1 opening and 2 closing curly brackets.")
    assert_counter(page, "txt2img_token_counter", False)
    type_prompt(page, "txt2img_neg_prompt", "")
    assert_counter(page, "txt2img_negative_token_counter", False)
    assert errors == []


def test_img2img_counters_are_checked_too(module_page):
    page, errors = module_page
    page.click("#tab_img2img-button")
    page.wait_for_selector("#img2img_prompt textarea")
    type_prompt(page, "img2img_prompt", "a cat (masterpiece")
    assert_counter(page, "img2img_token_counter", True, "(...) - Detected 1 opening and 0 closing round brackets.")
    type_prompt(page, "img2img_neg_prompt", "]")
    assert_counter(page, "img2img_negative_token_counter", True,
                   "[...] - Detected 0 opening and 1 closing square brackets.")
    type_prompt(page, "img2img_prompt", "a cat (masterpiece:1.2)")
    assert_counter(page, "img2img_token_counter", False)
    type_prompt(page, "img2img_neg_prompt", "")
    assert_counter(page, "img2img_negative_token_counter", False)
    page.click("#tab_txt2img-button")
    assert errors == []
