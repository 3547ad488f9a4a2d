"""The 💾 Save and 🗃️ Zip buttons under a gallery (SPEC 13.2): files in ``log/images`` and a ``log.csv`` line."""
from __future__ import annotations

import csv
import json
import os
import zipfile
from types import SimpleNamespace
from typing import Any

from modules.core.services import current_services
from modules.processing import image_saver
from modules.processing.filename_pattern import FilenameGenerator
from modules.ui.components import opt, plaintext_to_html
from modules.ui.gallery_files import item_image

LOG_COLUMNS = ["prompt", "seed", "width", "height", "sampler", "cfgs", "steps", "filename", "negative_prompt",
               "sd_model_name", "sd_model_hash"]


def _resolve(path: str) -> str:
    services = current_services()
    data_dir = getattr(services.paths, "data_dir", None) if services.paths is not None else None
    return os.path.join(data_dir, path) if data_dir and not os.path.isabs(path) else path


class SaveError(ValueError):
    """Nothing to save (no generation info or no pictures)."""


def save_files(js_data: str, gallery: list, do_make_zip: bool, index: int) -> tuple[list[str], str]:
    """Save the selected picture (setting ``save_selected_only``) or all of them; returns (files, message).

    ``js_data`` is the generation info JSON of the job the gallery shows.
    """
    services = current_services()
    try:
        data = json.loads(js_data or "")
    except json.JSONDecodeError as e:
        raise SaveError("Nothing to save: generate a picture first") from e
    if not gallery:
        raise SaveError("Nothing to save: the gallery is empty")
    p = SimpleNamespace(**data)
    path = _resolve(opt("outdir_save", "log/images"))
    os.makedirs(path, exist_ok=True)
    first = int(data.get("index_of_first_image", 0))
    start, items, only_one = 0, list(gallery), False
    if index is not None and index > -1 and opt("save_selected_only", True) and index >= first:
        only_one = True
        start, items = index, [gallery[index]]

    filenames: list[str] = []
    fullfns: list[str] = []
    infotexts = data.get("infotexts") or []
    for image_index, item in enumerate(items, start):
        image = item_image(item)
        if image is None:
            continue
        is_grid = image_index < first
        i = 0 if is_grid else image_index - first
        p.batch_index = image_index - 1
        seeds, prompts = data.get("all_seeds") or [-1], data.get("all_prompts") or [""]
        info = infotexts[image_index] if image_index < len(infotexts) else image.info.get("parameters")
        fullfn, txt_fullfn = image_saver.save_image(services, image, path, "", seed=seeds[min(i, len(seeds) - 1)],
                                                    prompt=prompts[min(i, len(prompts) - 1)],
                                                    extension=opt("samples_format", "png"), info=info, grid=is_grid,
                                                    p=p, save_to_dirs=opt("use_save_to_dirs_for_ui", False))
        filenames.append(os.path.relpath(fullfn, path))
        fullfns.append(fullfn)
        if txt_fullfn:
            filenames.append(os.path.basename(txt_fullfn))
            fullfns.append(txt_fullfn)
    if not fullfns:
        raise SaveError("Nothing to save: the pictures are gone; generate again")

    if opt("save_write_log_csv", True):
        _append_log(path, data, filenames[0])
    if do_make_zip:
        seeds = data.get("all_seeds") or [-1]
        zip_seed = seeds[min(max(index - 1, 0), len(seeds) - 1)] if only_one else seeds[0]
        namegen = FilenameGenerator(p, zip_seed, (data.get("all_prompts") or [""])[0], None, True,
                                    settings=services.opts, rules=image_saver.filename_rules(services),
                                    context=image_saver.name_context(services))
        name = namegen.apply(opt("grid_zip_filename_pattern", "") or "[datetime]_[[model_name]]_[seed]-[seed_last]")
        zip_path = os.path.join(path, f"{name}.zip")
        with zipfile.ZipFile(zip_path, "w") as archive:
            for arcname, filename in zip(filenames, fullfns):
                archive.write(filename, arcname)
        fullfns.insert(0, zip_path)
    return fullfns, f"Saved: {filenames[0]}"


def save_files_html(js_data: str, images: list, do_make_zip: bool, index: int) -> tuple[list[str], str]:
    """:func:`save_files` with the message as HTML (A1111's ``ui_common.save_files``)."""
    files, message = save_files(js_data, images, do_make_zip, index)
    return files, plaintext_to_html(message)


def _append_log(path: str, data: dict, filename: str) -> None:
    """One line in ``log.csv`` (header written when the file is new)."""
    with open(os.path.join(path, "log.csv"), "a", encoding="utf8", newline="") as file:
        writer = csv.writer(file)
        if file.tell() == 0:
            writer.writerow(LOG_COLUMNS)
        writer.writerow([data.get("prompt"), data.get("seed"), data.get("width"), data.get("height"),
                         data.get("sampler_name"), data.get("cfg_scale"), data.get("steps"), filename,
                         data.get("negative_prompt"), data.get("sd_model_name"), data.get("sd_model_hash")])
