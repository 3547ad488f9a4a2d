"""Localizations: files from --localizations-dir and extensions' localizations/ folders, merged in that order,
offered by setting ``localization``; a broken file is reported, never fatal."""
from __future__ import annotations

import json


def test_localizations_are_listed_and_merged_install_first(started, data_dir, tmp_path, capsys):
    own = tmp_path / "own-localizations"
    own.mkdir()
    (own / "xx.json").write_text(json.dumps({"Generate": "Erzeugen", "Seed": "Saat"}))
    (own / "broken.json").write_text("{not json")
    (own / "notes.txt").write_text("ignored")
    ext = data_dir / "extensions" / "xx-pack" / "localizations"
    ext.mkdir(parents=True)
    (ext / "xx.json").write_text(json.dumps({"Seed": "Samen", "Interrupt": "Abbrechen"}))
    (ext / "yy.json").write_text(json.dumps({"Generate": "Generar"}))
    started("--skip-load-model-at-start", "--localizations-dir", str(own))

    from modules import localization, shared

    assert set(localization.localizations) == {"xx", "yy", "broken"}
    assert localization.localization_data("xx") == {"Generate": "Erzeugen", "Seed": "Samen", "Interrupt": "Abbrechen"}
    assert localization.localization_data("None") == {} and localization.localization_data("zz") == {}
    assert localization.localization_data("broken") == {}
    assert "Error loading localization from" in capsys.readouterr().err
    assert localization.localization_js("yy") == 'window.localization = {"Generate": "Generar"}'
    choices = shared.opts.data_labels["localization"].component_args()["choices"]
    assert choices[0] == "None" and {"xx", "yy"} <= set(choices)


def test_calculate_all_checkpoint_hashes_titles_every_checkpoint(started, data_dir):
    import hashlib

    from modules.models.tiny_factory import make_tiny_checkpoint

    folder = data_dir / "models" / "Stable-diffusion"
    paths = [make_tiny_checkpoint("sd1", folder, name=f"tiny-{i}", seed=i) for i in range(3)]
    started("--skip-load-model-at-start")
    from modules import shared
    from modules.ui.settings_tab import calculate_all_checkpoint_hashes

    assert calculate_all_checkpoint_hashes(2) == "Calculated hashes for 3 of 3 checkpoints."
    titles = set(shared.checkpoints.titles())
    for path in paths:
        short = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        assert f"{path.name} [{short}]" in titles
