"""The Extras tab's job: run the postprocessing operations over one picture, several, or a folder, and save.

:func:`run_postprocessing` is A1111's function of that name (``extras_mode`` 0 =
single image, 1 = batch of uploaded pictures, 2 = batch from a directory);
:func:`run_extras` is A1111's older entry point with one argument per control,
which the HTTP API uses.  The operations are the built-in ones
(:mod:`modules.postprocess.extras_ops`) and the extensions' postprocessing scripts,
in the order of settings ``postprocessing_operation_order`` (names first, in that
order) and ``postprocessing_disable_in_extras``.  Results go to
``outputs/extras-images`` (setting ``outdir_extras_samples``, or ``outdir_samples``),
numbered only, never in date folders, with the operations' info in the ``extras``
and ``postprocessing`` PNG chunks and the source picture's ``parameters`` kept.

This sits above scripting and processing: it runs the extensions' scripts, saves
through the image saver and quotes infotext values.  The services default to the
installed ones (A1111's functions take none).
"""
from __future__ import annotations

import html
import os
from typing import Any, Iterable, Iterator

from PIL import Image, ImageOps

from modules.core.errors import report
from modules.core.services import Services, current_services
from modules.models.model_files import natural_sort_key
from modules.postprocess import extras_ops
from modules.postprocess.extras_ops import PostprocessingOperation
from modules.postprocess.operation_passes import run_passes
from modules.processing import image_saver
from modules.processing.executors import current_executor
from modules.processing.image_saving_info import read_info_from_image
from modules.processing.infotext import quote
from modules.scripting.postprocessing import PostprocessedImage
from modules.scripting.reporting import wrap_call


class ExtrasInputError(ValueError):
    """The job has nothing to work on (no picture, no folder) or asks for what the flags forbid."""


def plaintext_to_html(text: str, classname: str | None = None) -> str:
    """A1111's ``ui_common.plaintext_to_html``: escaped lines joined by ``<br>`` in a ``<p>``."""
    content = "<br>\n".join(html.escape(x) for x in text.split("\n"))
    return f"<p class='{classname}'>{content}</p>" if classname else f"<p>{content}</p>"


def infotext_from_info(info: dict[str, Any]) -> str:
    """``Key: value, ...`` with values quoted as infotext quotes them; a key whose value equals it stands alone."""
    return ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in info.items() if v is not None)


def read_image(path: str) -> Image.Image:
    """A picture from disk, turned as its EXIF says, with PNG palette transparency made RGBA (A1111's ``images.read``)."""
    image = Image.open(path)
    try:
        image = ImageOps.exif_transpose(image)
    except (ValueError, TypeError, OSError):
        pass  # broken EXIF: the pixels as stored
    if image.mode in ("RGB", "P") and isinstance(image.info.get("transparency"), bytes):
        image = image.convert("RGBA")
    return image


def list_image_files(dirname: str) -> list[str]:
    """The files of ``dirname`` in natural order, hidden ones left out (A1111's ``shared.listfiles``)."""
    names = sorted((x for x in os.listdir(dirname) if not x.startswith(".")), key=natural_sort_key)
    return [p for p in (os.path.join(dirname, x) for x in names) if os.path.isfile(p)]


def _opt(services: Services, key: str, default: Any) -> Any:
    opts = services.opts
    return getattr(opts, key, default) if opts is not None else default


# --- the operations: built-in ones and the extensions' postprocessing scripts -------------------------------

def script_operations(services: Services | None = None) -> list[Any]:
    """The extensions' postprocessing scripts (``ScriptPostprocessing`` instances of the ``scripts_postproc``
    runner) whose names are not a built-in operation's: they run in the Extras tab after (or among) the built-ins."""
    services = services or current_services()
    builtin = {op.name for op in extras_ops.operations()}
    return [s for s in getattr(services.scripts_postproc, "scripts", None) or [] if s.name not in builtin]


def control_names(op: Any) -> tuple[str, ...]:
    """The keyword arguments of an operation's ``process`` in UI order (a script's: the keys its ``ui()`` returned)."""
    return tuple(op.controls or ())


def _call(op: Any, method: str, pp: PostprocessedImage, kwargs: dict[str, Any]) -> None:
    if isinstance(op, PostprocessingOperation):
        getattr(op, method)(pp, **kwargs)  # a built-in's error (unknown upscaler...) is the job's error
        return
    try:
        getattr(op, method)(pp, **kwargs)
    except Exception:  # an extension's script never kills the job
        report(f"Error running {method}: {getattr(op, 'filename', None)}", exc_info=True)


def operations_in_preferred_order(order: Iterable[str] | None = None, disabled: Iterable[str] | None = None,
                                  services: Services | None = None) -> list[Any]:
    """The operations to run: names in ``order`` first (in that order), then by ``order`` number and name.

    ``order``/``disabled`` default to settings ``postprocessing_operation_order`` and
    ``postprocessing_disable_in_extras``.
    """
    services = services or current_services()
    order = list(order if order is not None else _opt(services, "postprocessing_operation_order", None) or [])
    disabled = set(disabled if disabled is not None else _opt(services, "postprocessing_disable_in_extras", None) or [])
    kept = [op for op in [*extras_ops.operations(), *script_operations(services)] if op.name not in disabled]

    def score(item: tuple[int, Any]) -> tuple:
        index, op = item
        position = order.index(op.name) if op.name in order else len(kept)
        return position, op.order, op.name or "", index

    return [op for _, op in sorted(enumerate(kept), key=score)]


def args_from_positional(args: Iterable[Any], services: Services | None = None) -> dict[str, dict[str, Any]]:
    """UI-style flat arguments (each operation's controls, operations in preferred order) as a per-name dict."""
    values = list(args)
    result: dict[str, dict[str, Any]] = {}
    position = 0
    for op in operations_in_preferred_order(services=services):
        names = control_names(op)
        chunk = values[position:position + len(names)]
        position += len(names)
        if chunk:
            result[op.name] = dict(zip(names, chunk))
    return result


def run_operations(pp: PostprocessedImage, args: dict[str, dict[str, Any]], services: Services | None = None) -> None:
    """Run every operation named in ``args`` (with its keyword arguments) over ``pp`` and the pictures it makes."""
    services = services or current_services()
    selected = [(op, args[op.name]) for op in operations_in_preferred_order(services=services) if op.name in args]
    run_passes(pp, selected, _call, services.state)


def image_changed(services: Services | None = None) -> None:
    """Tell every operation the source picture changed (the Upscale cache is dropped)."""
    for op in extras_ops.operations():
        op.image_changed()
    for script in script_operations(services):
        wrap_call(script.image_changed, getattr(script, "filename", None), "image_changed")


# --- the job ------------------------------------------------------------------------------------------------

def _inputs(services: Services, extras_mode: int, image: Any, image_folder: Any,
            input_dir: str) -> Iterator[tuple[Any, str | None]]:
    """(picture or path, original name or None) for each picture of the job."""
    if extras_mode == 1:
        for item in image_folder or []:
            if isinstance(item, Image.Image):
                yield item, None
            elif isinstance(item, (str, os.PathLike)):
                yield os.fspath(item), os.fspath(item)
            else:  # an uploaded file object: the temporary path and the name the user gave it
                path = getattr(item, "name")
                yield path, getattr(item, "orig_name", None) or path
    elif extras_mode == 2:
        if getattr(services.cmd_opts, "hide_ui_dir_config", False):
            raise ExtrasInputError("--hide-ui-dir-config option must be disabled")
        if not input_dir:
            raise ExtrasInputError("input directory not selected")
        for path in list_image_files(input_dir):
            yield path, path
    else:
        if image is None or (isinstance(image, str) and not image):
            raise ExtrasInputError("image not selected")
        yield image, None


def _output_path(services: Services, extras_mode: int, output_dir: str) -> str:
    if extras_mode == 2 and output_dir:
        return output_dir
    path = _opt(services, "outdir_samples", "") or _opt(services, "outdir_extras_samples", "outputs/extras-images")
    data_dir = getattr(services.paths, "data_dir", None) if services.paths is not None else None
    return os.path.join(data_dir, path) if data_dir and not os.path.isabs(path) else path


def _args_dict(args: tuple[Any, ...], services: Services) -> dict[str, dict[str, Any]]:
    if len(args) == 1 and isinstance(args[0], dict):
        return args[0]
    return args_from_positional(args, services)


def _load(placeholder: Any) -> Image.Image | None:
    """The picture of one input (``None``: a directory batch's file that is not a picture, skipped as in A1111)."""
    if isinstance(placeholder, str):
        try:
            image = read_image(placeholder)
        except OSError:
            return None
    else:
        image = placeholder
    return image if image.mode in ("RGBA", "RGB") else image.convert("RGB")


def _save_results(services: Services, initial_pp: PostprocessedImage, name: str | None, outpath: str,
                  existing_pnginfo: dict, save_output: bool) -> tuple[list[Image.Image], str]:
    """Save the processed picture and its extra pictures; returns them and the last one's infotext."""
    state = services.state
    used_suffixes: dict[str, int] = {}
    shown: list[Image.Image] = []
    infotext = ""
    for pp in [initial_pp, *initial_pp.extra_images]:
        suffix = pp.get_suffix(used_suffixes)
        if _opt(services, "use_original_name_batch", True) and name:
            basename = os.path.splitext(os.path.basename(name))[0]
            forced_filename: str | None = basename + suffix
        else:
            basename = ""
            forced_filename = None

        infotext = infotext_from_info(pp.info)
        if _opt(services, "enable_pnginfo", True):
            # A1111 shares this dict with the picture, so the saved file carries it as "postprocessing" too
            pp.image.info = existing_pnginfo
            pp.image.info["postprocessing"] = infotext
        if state is not None and hasattr(state, "assign_current_image"):
            state.assign_current_image(pp.image)

        if save_output:
            image_saver.save_image(services, pp.image, path=outpath, basename=basename,
                                   extension=_opt(services, "samples_format", "png"), info=infotext,
                                   short_filename=True, no_prompt=True, grid=False, pnginfo_section_name="extras",
                                   existing_info=existing_pnginfo, forced_filename=forced_filename, suffix=suffix)
            if pp.caption:
                _write_caption(services, pp)
        shown.append(pp.image)
    return shown, infotext


def run_postprocessing(extras_mode: int, image: Any, image_folder: Any, input_dir: str, output_dir: str,
                       show_extras_results: bool, *args: Any, save_output: bool = True,
                       services: Services | None = None) -> tuple[list[Image.Image], str, str]:
    """Run the operations over the job's pictures; returns (pictures to show, info as HTML, "").

    ``args`` is either one dict ``{operation name: {control: value}}`` or the
    controls' values in operation order, as the UI passes them.  Pictures of a
    directory batch are returned only with ``show_extras_results``.
    """
    services = services or current_services()
    state = services.state
    op_args = _args_dict(args, services)
    outputs: list[Image.Image] = []
    infotext = ""
    if state is not None:
        state.begin(job="extras")
    try:
        data = list(_inputs(services, extras_mode, image, image_folder, input_dir))
        outpath = _output_path(services, extras_mode, output_dir)
        if state is not None:
            state.job_count = len(data)

        executor = _postprocessing_executor()
        if executor is not None:  # --ray: the pictures' operations run on the workers, saving stays here
            for shown, infotext in _run_on_executor(executor, services, data, op_args, outpath, save_output):
                if extras_mode != 2 or show_extras_results:
                    outputs.extend(shown)
            return outputs, plaintext_to_html(infotext), ""

        for placeholder, name in data:
            if state is not None:
                state.nextjob()
                state.textinfo = name
                state.skipped = False
                if state.interrupted:
                    break
            loaded = _load_with_info(placeholder)
            if loaded is None:
                continue
            initial_pp, existing_pnginfo = loaded
            run_operations(initial_pp, op_args, services)
            if state is not None and state.skipped:
                continue

            shown, infotext = _save_results(services, initial_pp, name, outpath, existing_pnginfo, save_output)
            if extras_mode != 2 or show_extras_results:
                outputs.extend(shown)
    finally:
        if state is not None:
            state.end()
    return outputs, plaintext_to_html(infotext), ""


def _load_with_info(placeholder: Any) -> tuple[PostprocessedImage, dict] | None:
    """The picture of one input ready for the operations, with the PNG info its saved result keeps."""
    image_data = _load(placeholder)
    if image_data is None:
        return None
    parameters, existing_pnginfo = read_info_from_image(image_data)
    if parameters:
        existing_pnginfo["parameters"] = parameters
    return PostprocessedImage(image_data), existing_pnginfo


def _postprocessing_executor() -> Any:
    """The installed executor when it runs Extras jobs (``--ray``), else None."""
    executor = current_executor()
    accepts = getattr(executor, "accepts_postprocessing", None)
    return executor if accepts is not None and accepts() else None


def _run_on_executor(executor: Any, services: Services, data: list[tuple[Any, str | None]],
                     op_args: dict[str, dict[str, Any]], outpath: str,
                     save_output: bool) -> Iterator[tuple[list[Image.Image], str]]:
    """The job's pictures in windows as wide as the executor's free slots: each window's operations run there at
    once (one picture per worker), then its results are saved here in the job's order (the names a local run
    gives them); yields each picture's (shown pictures, infotext)."""
    state = services.state
    task_id = getattr(state, "current_task_id", None) or "task(extras)"
    position = 0
    while position < len(data):
        if state is not None and state.interrupted:
            return
        window = data[position:position + max(1, executor.parallel_slots())]
        position += len(window)
        loaded = [(name, _load_with_info(placeholder)) for placeholder, name in window]
        pictures = [item[0] for _, item in loaded if item is not None]
        results = iter(executor.run_postprocessing(services, f"{task_id}@{position}", pictures, op_args))
        for name, item in loaded:
            if state is not None:
                state.nextjob()
                state.textinfo = name
            if item is None:
                continue
            processed = next(results, None)
            if processed is None:  # interrupted: the pictures not run are not saved
                return
            yield _save_results(services, processed, name, outpath, item[1], save_output)


def _write_caption(services: Services, pp: PostprocessedImage) -> None:
    """Write ``pp.caption`` next to the saved picture, merging with an existing caption as the setting says."""
    fullfn = getattr(pp.image, "already_saved_as", None)
    if not fullfn:
        return
    caption_filename = os.path.splitext(fullfn)[0] + ".txt"
    existing = ""
    if os.path.exists(caption_filename):
        with open(caption_filename, encoding="utf8") as f:
            existing = f.read().strip()
    action = _opt(services, "postprocessing_existing_caption_action", "Ignore")
    caption = pp.caption
    if action == "Keep" and existing:
        caption = existing
    elif action == "Prepend" and existing:
        caption = f"{existing} {caption}"
    elif action == "Append" and existing:
        caption = f"{caption} {existing}"
    with open(caption_filename, "w", encoding="utf8") as f:
        f.write(caption.strip())


def run_extras(extras_mode: int, resize_mode: int, image: Any, image_folder: Any, input_dir: str, output_dir: str,
               show_extras_results: bool, gfpgan_visibility: float, codeformer_visibility: float,
               codeformer_weight: float, upscaling_resize: float, upscaling_resize_w: int, upscaling_resize_h: int,
               upscaling_crop: bool, extras_upscaler_1: str | None, extras_upscaler_2: str | None,
               extras_upscaler_2_visibility: float, upscale_first: bool = False, save_output: bool = True,
               max_side_length: int = 0, services: Services | None = None) -> tuple[list[Image.Image], str, str]:
    """A1111's ``postprocessing.run_extras``: one argument per control (``upscale_first`` has no effect)."""
    args = {
        "Upscale": {
            "upscale_enabled": True,
            "upscale_mode": resize_mode,
            "upscale_by": upscaling_resize,
            "max_side_length": max_side_length,
            "upscale_to_width": upscaling_resize_w,
            "upscale_to_height": upscaling_resize_h,
            "upscale_crop": upscaling_crop,
            "upscaler_1_name": extras_upscaler_1,
            "upscaler_2_name": extras_upscaler_2,
            "upscaler_2_visibility": extras_upscaler_2_visibility,
        },
        "GFPGAN": {"enable": True, "gfpgan_visibility": gfpgan_visibility},
        "CodeFormer": {"enable": True, "codeformer_visibility": codeformer_visibility,
                       "codeformer_weight": codeformer_weight},
    }
    return run_postprocessing(extras_mode, image, image_folder, input_dir, output_dir, show_extras_results, args,
                              save_output=save_output, services=services)
