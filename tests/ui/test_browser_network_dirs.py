"""The directory view of an extra-networks page in the browser: the "Dirs" buttons filter the cards by folder, and
with setting ``extra_networks_tree_view_style`` = Tree (chosen in Settings, as a person would) the tree beside the
cards opens folders, filters by them, inserts a file's text, and hides behind its toggle button."""
from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from tests.ui.conftest import screenshot_dir
from tests.ui.test_browser_networks import TOKEN_EMBEDDING, checkpoint_shape

pytestmark = pytest.mark.browser
# the tab of this group's earlier modules goes on here (module_page, tests/ui/conftest.py), on the second main-kind
# server (tests/parallel.py)
SHARED_TAB = "second-server"
PANE = "#txt2img_hypernetworks"


@pytest.fixture(scope="module")
def hypernetwork_files(server):
    """Three hypernetwork files (listing reads only their names): alpha, style/beta, style/ink/gamma."""
    root = server.data_dir / "models" / "hypernetworks"
    for relative in ("alpha.pt", "style/beta.pt", "style/ink/gamma.pt"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not loaded by listing")
    return root


def visible(page) -> list[str]:
    return sorted(page.eval_on_selector_all(f"{PANE}_cards .card:not(.hidden)", "cs => cs.map(c => c.dataset.name)"))


def shown(card: str, tree: bool) -> str:
    """A page function: the cards include ``card`` in the chosen directory view (the tree or the Dirs buttons)."""
    return f"""() => {{
        const p = document.querySelector('{PANE}_pane');
        return !!(p && p.dataset.webuiReady && p.querySelector(".card[data-name='{card}']")
                  && document.querySelector('{PANE}_{"tree" if tree else "dirs"}'));
    }}"""


def refresh(page, card: str = "gamma", tree: bool = False) -> None:
    """Press the page's refresh button and wait until its cards include ``card`` in the chosen view.

    Opening the tab renders the page too, with the same HTML a refresh then gives when nothing changed on disk (and
    gradio leaves an unchanged HTML alone): so this waits for what the page shows, never for a replacement (which
    stalled whenever the tab's own render won the race)."""
    page.click(f"{PANE}_extra_refresh")
    page.wait_for_function(shown(card, tree), timeout=60000)


def open_page(page, tree: bool = False) -> None:
    page.click("#tab_txt2img-button")
    page.click(f"{PANE}-button")
    page.wait_for_selector(f"{PANE}_extra_refresh", state="visible", timeout=60000)
    refresh(page, tree=tree)


def choose_view_style(page, style: str) -> None:
    page.click("#tab_settings-button")
    page.click("#settings_nav .settings-nav-item[data-page='settings_extra_networks']")
    page.locator("#setting_extra_networks_tree_view_style label", has_text=style).click()
    page.click("#settings_submit")
    page.wait_for_function("() => document.querySelector('#settings_result').textContent"
                           ".includes('extra_networks_tree_view_style')")


def test_dir_buttons_filter_by_folder(module_page, hypernetwork_files):
    page, errors = module_page
    open_page(page)
    buttons = page.locator(f"{PANE}_dirs button")
    assert buttons.all_inner_texts() == ["all", "style/", "style/ink/"]
    buttons.nth(1).click()
    assert page.locator(f"{PANE}_extra_search").input_value() == "style/"
    assert visible(page) == ["beta", "gamma"]
    buttons.nth(2).click()
    assert visible(page) == ["gamma"]
    buttons.nth(2).click()  # a second click shows everything again
    assert visible(page) == ["alpha", "beta", "gamma"]
    page.click(f"{PANE}_extra_tree_view")
    assert not page.locator(f"{PANE}_dirs").is_visible()
    page.click(f"{PANE}_extra_tree_view")
    assert page.locator(f"{PANE}_dirs").is_visible()
    assert errors == []


def test_card_in_a_hidden_folder_shows_for_a_search_of_four_characters(module_page, server):
    """An embedding in ``embeddings/.private`` (as wide as the tiny checkpoint's token embeddings, so it loads)."""
    width = checkpoint_shape(server, TOKEN_EMBEDDING)[1]
    folder = server.data_dir / "embeddings" / ".private"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"emb_params": torch.randn(1, width, generator=torch.Generator().manual_seed(5))},
              str(folder / "omegaemb.safetensors"))
    page, errors = module_page
    page.click("#tab_txt2img-button")
    page.click("#txt2img_textual_inversion-button")
    page.wait_for_selector("#txt2img_textual_inversion_extra_refresh", state="visible", timeout=60000)
    page.click("#txt2img_textual_inversion_extra_refresh")
    card = page.locator("#txt2img_textual_inversion_cards .card[data-name='omegaemb']")
    card.wait_for(state="attached", timeout=60000)
    assert card.get_attribute("data-search-only") == "true" and not card.is_visible()
    search = page.locator("#txt2img_textual_inversion_extra_search")
    search.fill("ome")
    assert not card.is_visible()
    search.fill("omeg")
    assert card.is_visible()
    search.fill("")
    assert not card.is_visible()
    assert errors == []


def test_tree_view_opens_folders_filters_and_inserts(module_page, hypernetwork_files):
    page, errors = module_page
    choose_view_style(page, "Tree")
    try:
        open_page(page, tree=True)
        tree = page.locator(f"{PANE}_tree")
        assert tree.is_visible() and not page.locator(f"{PANE}_dirs").count()
        assert tree.evaluate("t => t.getBoundingClientRect().width") == pytest.approx(180, abs=2)
        ink = tree.locator(".tree-dir[data-dir='style/ink'] > .tree-label")
        assert not ink.is_visible()  # inside the closed folder "style"
        tree.locator(".tree-dir[data-dir='style'] > .tree-label").click()
        assert ink.is_visible() and visible(page) == ["beta", "gamma"]
        assert page.locator(f"{PANE}_extra_search").input_value() == "/style/"
        ink.click()
        assert visible(page) == ["gamma"]
        page.screenshot(path=os.path.join(screenshot_dir(), "extra-networks-tree.png"), full_page=True)
        ink.click()  # a second click closes the folder and shows everything
        assert visible(page) == ["alpha", "beta", "gamma"]

        page.locator("#txt2img_prompt textarea").fill("a fox")
        tree.locator(".tree-file[data-name='alpha'] > .tree-label").click()
        assert page.locator("#txt2img_prompt textarea").input_value() == "a fox <hypernet:alpha:1>"
        tree.locator(".tree-file[data-name='alpha'] > .tree-label").click()
        assert page.locator("#txt2img_prompt textarea").input_value() == "a fox"

        page.click(f"{PANE}_extra_tree_view")
        assert not tree.is_visible()
        # the choice survives a refresh of the cards (a new file, so that the page's HTML changes)
        (hypernetwork_files / "style" / "delta.pt").write_bytes(b"not loaded by listing")
        refresh(page, card="delta", tree=True)
        assert not page.locator(f"{PANE}_tree").is_visible()
        page.click(f"{PANE}_extra_tree_view")
        assert page.locator(f"{PANE}_tree").is_visible()
    finally:
        (hypernetwork_files / "style" / "delta.pt").unlink(missing_ok=True)
        choose_view_style(page, "Dirs")
    assert errors == []
