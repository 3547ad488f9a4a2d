"""A person at the Train tab: create an embedding, point Train at a folder of pictures, Train Embedding, and read
"Training finished at 20 steps" while the embedding file on disk has been trained; a long run shows its progress
and stops at Interrupt keeping its steps, and the next run resumes from them. A hypernetwork the same."""
from __future__ import annotations

import os

import pytest
import torch

from tests.training.conftest import write_dataset
from tests.ui.conftest import screenshot_dir, set_number

pytestmark = pytest.mark.browser


def choose(page, elem_id: str, value: str) -> None:
    page.click(f"#{elem_id} input")
    page.click(f"#{elem_id} [role=option][aria-label='{value}']")
    page.keyboard.press("Escape")


def fill_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")


def test_create_then_train_an_embedding_from_the_train_tab(module_page, server, tmp_path):
    page, errors = module_page
    dataset = tmp_path / "pictures"
    write_dataset(dataset)
    page.click("#tab_train-button")
    page.click("#train_tabs button[data-tab-id='create_embedding']")
    page.locator("#train_new_embedding_name textarea").fill("browsertok")
    page.click("#train_create_embedding")
    page.wait_for_function("() => document.querySelector('#ti_output textarea').value.startsWith('Created:')",
                           timeout=60000)
    created = server.data_dir / "embeddings" / "browsertok.pt"
    assert created.exists()

    page.click("#train_tabs button[data-tab-id='train']")
    choose(page, "train_embedding", "browsertok")
    page.locator("#train_dataset_directory textarea").fill(str(dataset))
    set_number(page, "train_training_width", 64)
    set_number(page, "train_training_height", 64)
    fill_number(page, "train_steps", 20)
    fill_number(page, "train_create_image_every", 0)
    fill_number(page, "train_save_embedding_every", 10)
    page.click("#train_train_embedding")
    wait_for_output(page, "Training finished")
    message = page.input_value("#ti_output textarea")
    page.screenshot(path=os.path.join(screenshot_dir(), "train-embedding-finished.png"), full_page=True)
    assert "Training finished at 20 steps." in message and f"Embedding saved to {created}" in message
    assert torch.load(created, weights_only=True)["step"] == 20
    copies = list((server.data_dir / "textual_inversion").glob("*/browsertok/embeddings/*.pt"))
    assert sorted(p.name for p in copies) == ["browsertok-10.pt", "browsertok-20.pt"]
    # under the output: the time taken, as after a generation, and no error
    assert "Time taken" in page.inner_text("#ti_error") and page.locator("#ti_error .error").count() == 0

    interrupt_then_resume(page, "train_train_embedding", lambda: torch.load(created, weights_only=True)["step"])
    assert errors == []


def wait_for_output(page, text: str) -> None:
    page.wait_for_function(f"() => document.querySelector('#ti_output textarea').value.includes({text!r})",
                           timeout=180000)


def interrupt_then_resume(page, button: str, saved_step) -> None:
    """After a 20-step run: a run of 100,000 steps shows the progress bar over the output, Interrupt stops it and
    the file keeps the steps done; then a run to two steps past those continues from them."""
    fill_number(page, "train_steps", 100000)
    page.click(f"#{button}")
    # the bar turns active once the job runs (an interrupt before that would be for no job)
    page.wait_for_selector("#ti_gallery_container .progressDiv.active", timeout=60000)
    page.click("#train_interrupt_training")
    wait_for_output(page, "Training interrupted")
    step = saved_step()
    assert 20 <= step < 100000 and f"Training interrupted at {step} steps." in page.input_value("#ti_output textarea")
    fill_number(page, "train_steps", step + 2)
    page.click(f"#{button}")
    wait_for_output(page, f"Training finished at {step + 2} steps.")
    assert saved_step() == step + 2


def test_train_a_hypernetwork_from_the_train_tab(module_page, server, tmp_path):
    """A hypernetwork file for the tiny model's widths dropped into the folder, found with 🔄, trained 20 steps; a
    long run interrupted keeps its steps, and the next run resumes from them."""
    from modules.networks.hypernetworks.creation import hypernetwork_file_data

    page, errors = module_page
    dataset = tmp_path / "pictures"
    write_dataset(dataset)
    folder = server.data_dir / "models" / "hypernetworks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "browserhn.pt"
    torch.save(hypernetwork_file_data("browserhn", [32, 64], [1, 2, 1], "relu", "Normal", False, False, [0, 0, 0]),
               path)
    page.click("#tab_train-button")
    page.click("#train_tabs button[data-tab-id='train']")
    page.click("#refresh_train_hypernetwork_name")
    choose(page, "train_hypernetwork", "browserhn")
    page.locator("#train_dataset_directory textarea").fill(str(dataset))
    set_number(page, "train_training_width", 64)
    set_number(page, "train_training_height", 64)
    fill_number(page, "train_steps", 20)
    fill_number(page, "train_create_image_every", 0)
    fill_number(page, "train_save_embedding_every", 0)
    page.click("#train_train_hypernetwork")
    wait_for_output(page, "Hypernetwork saved")
    assert "Training finished at 20 steps." in page.input_value("#ti_output textarea")
    assert torch.load(path, weights_only=False)["step"] == 20

    interrupt_then_resume(page, "train_train_hypernetwork", lambda: torch.load(path, weights_only=False)["step"])
    assert errors == []
