"""styles.csv (SPEC 4.7): applying with and without {prompt}, several files, saving with a backup, extraction."""
from __future__ import annotations

import os

import pytest

from modules.prompting.styles import (PromptStyle, StyleDatabase, extract_style_text_from_prompt, merge_prompts)

BOM = "\ufeff"


@pytest.mark.parametrize("style,prompt,expected", [
    ("{prompt}, masterpiece", "cat", "cat, masterpiece"),
    ("masterpiece", "cat", "cat, masterpiece"),
    ("masterpiece", "", "masterpiece"),
    ("", " cat ", "cat"),
    ("  detailed ", "cat ", "cat, detailed"),
    ("a {prompt} b {prompt}", "x", "a x b x"),
    (None, "cat", "cat"),
])
def test_merge_prompts(style, prompt, expected):
    assert merge_prompts(style, prompt) == expected


@pytest.mark.parametrize("style,prompt,expected", [
    ("masterpiece", "1girl, art by greg, masterpiece", (True, "1girl, art by greg")),
    ("masterpiece, {prompt}", "masterpiece, 1girl, art by greg", (True, "1girl, art by greg")),
    ("masterpiece, {prompt}", "exquisite, 1girl, art by greg", (False, "exquisite, 1girl, art by greg")),
    ("x", " cat, x ", (True, "cat")),
    ("{prompt}{prompt}", "cat", (False, "cat")),
])
def test_extract_style_text(style, prompt, expected):
    assert extract_style_text_from_prompt(style, prompt) == expected


def write(path, text):
    path.write_text(text, encoding="utf-8", newline="")


def test_reading_bom_comments_and_old_format(tmp_path):
    write(tmp_path / "styles.csv", BOM + "name,prompt,negative_prompt\n"
          "Photo,\"{prompt}, photo, 35mm\",\"cartoon, drawing\"\n#hidden,x,y\nPlain,detailed,\n")
    db = StyleDatabase([str(tmp_path / "styles.csv")])
    assert list(db.styles) == ["Photo", "Plain"]
    assert db.styles["Photo"] == PromptStyle("Photo", "{prompt}, photo, 35mm", "cartoon, drawing",
                                             str(tmp_path / "styles.csv"))
    assert db.apply_styles_to_prompt("cat", ["Photo", "Plain"]) == "cat, photo, 35mm, detailed"
    assert db.apply_negative_styles_to_prompt("ugly", ["Photo", "Plain", "Unknown"]) == "ugly, cartoon, drawing"

    write(tmp_path / "old.csv", "name,text\nOld,old text\n")
    assert StyleDatabase(str(tmp_path / "old.csv")).styles["Old"].prompt == "old text"


def test_missing_file_is_empty_and_save_creates_it(tmp_path):
    path = tmp_path / "styles.csv"
    db = StyleDatabase([str(path)])
    assert db.styles == {}
    db.save_style("New", "{prompt}, shiny", "dull")
    assert path.read_bytes().startswith(BOM.encode("utf-8"))
    assert path.read_bytes().decode("utf-8-sig") == "name,prompt,negative_prompt\r\nNew,\"{prompt}, shiny\",dull\r\n"
    assert not (tmp_path / "styles.csv.bak").exists()
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)


def test_save_keeps_a_backup_and_each_style_in_its_file(tmp_path):
    write(tmp_path / "styles.csv", "name,prompt,negative_prompt\nA,a,\n")
    write(tmp_path / "styles-extra.csv", "name,prompt,negative_prompt\nB,b,nb\n")
    db = StyleDatabase([str(tmp_path / "styles.csv"), str(tmp_path / "styles-*.csv")])
    divider_a = "---------------- STYLES ----------------"
    divider_b = "------------- STYLES-EXTRA -------------"
    assert list(db.styles) == [divider_a, "A", divider_b, "B"]
    assert db.styles[divider_a].prompt is None

    db.save_style("B", "b2", "nb2")
    assert (tmp_path / "styles-extra.csv.bak").read_text() == "name,prompt,negative_prompt\nB,b,nb\n"
    db.save_style("C", "c", "")
    assert (tmp_path / "styles-extra.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "name,prompt,negative_prompt", "B,b2,nb2"]
    assert (tmp_path / "styles.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "name,prompt,negative_prompt", "A,a,", "C,c,"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]

    db.delete_style("A")
    assert StyleDatabase([str(tmp_path / "styles.csv")]).styles.keys() == {"C"}


def test_glob_first_path_picks_the_default_file(tmp_path):
    write(tmp_path / "mystyles-1.csv", "name,prompt,negative_prompt\nX,x,\n")
    db = StyleDatabase([str(tmp_path / "mystyles-*.csv")])
    assert str(db.default_path) == str(tmp_path / "mystyles-1.csv")
    assert list(db.styles) == ["X"]  # one file: no divider
    empty = StyleDatabase([str(tmp_path / "none-*.csv")])
    assert str(empty.default_path) == str(tmp_path / "styles.csv")


def test_extract_styles_round_trip(tmp_path):
    write(tmp_path / "styles.csv", "name,prompt,negative_prompt\n"
          "Photo,\"{prompt}, photo\",blurry\nArt,\"art by x\",\"bad hands\"\nNeg only,,lowres\n")
    db = StyleDatabase([str(tmp_path / "styles.csv")])
    chosen = ["Photo", "Art", "Neg only"]
    prompt = db.apply_styles_to_prompt("a cat", chosen)
    negative = db.apply_negative_styles_to_prompt("ugly", chosen)
    assert (prompt, negative) == ("a cat, photo, art by x", "ugly, blurry, bad hands, lowres")
    assert db.extract_styles_from_prompt(prompt, negative) == (chosen, "a cat", "ugly")
    assert db.extract_styles_from_prompt("a dog", "") == ([], "a dog", "")


def test_api_items(tmp_path):
    write(tmp_path / "styles.csv", "name,prompt,negative_prompt\nA,a,na\n")
    assert StyleDatabase([str(tmp_path / "styles.csv")]).api_items() == [
        {"name": "A", "prompt": "a", "negative_prompt": "na"}]


def test_compat_module():
    from modules import styles

    assert styles.StyleDatabase is StyleDatabase and styles.merge_prompts("x", "y") == "y, x"
