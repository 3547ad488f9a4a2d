"""The X/Y/Z plot's work: resolving axis values, generating every cell, assembling the labelled grids."""
from __future__ import annotations

import contextvars
import random
from concurrent.futures import ThreadPoolExecutor
from copy import copy
from typing import Any, Callable, Iterator

from PIL import Image

from modules.builtin_scripts.grid_legend import GridAnnotation, draw_grid_annotations
from modules.builtin_scripts.value_ranges import expand_float, expand_int, split_csv
from modules.builtin_scripts.xyz_axes import AxisOption
from modules.core.services import current_services
from modules.processing import image_saver
from modules.processing.executors import current_executor
from modules.processing.processed import Processed
from modules.processing.errors import GenerationError

SEED_AXES = ("Seed", "Var. seed")


def process_axis(opt: AxisOption, vals: str, vals_dropdown: list | None, use_text: bool, p: Any) -> list:
    """The values of one axis: typed, ranges expanded, checked with the axis' ``confirm``."""
    if opt.label == "Nothing":
        return [0]
    if opt.choices is not None and not use_text:
        items: list = list(vals_dropdown or [])
    elif opt.prepare is not None:
        items = opt.prepare(vals)
    else:
        items = split_csv(vals)
    try:
        if opt.type is int:
            values: list = expand_int(items)
        elif opt.type is float:
            values = expand_float(items)
        else:
            values = [opt.type(x) if opt.type is not None else x for x in items]
    except (ValueError, TypeError) as e:  # the values text is the request's: a bad one is a 4xx, not our fault
        raise GenerationError(f"{opt.label} axis: invalid values {vals!r} ({e})") from e
    if opt.confirm is not None:
        opt.confirm(p, values)
    return values


def fix_axis_seeds(opt: AxisOption, values: list) -> list:
    """-1 (or empty) seeds on a seed axis become one random seed each, fixed for the whole plot."""
    if opt.label not in SEED_AXES:
        return values
    return [int(random.randrange(4294967294)) if v in (None, "", -1) else v for v in values]


def iteration_order(costs: dict[str, float]) -> list[str]:
    """Axes from outermost to innermost loop: costlier first; ties keep z, y, x (x varies fastest)."""
    return sorted("zyx", key=lambda axis: -costs[axis])


def draw_xyz_grid(p: Any, xs: list, ys: list, zs: list, x_labels: list[str], y_labels: list[str],
                  z_labels: list[str], cell: Callable[..., Any], draw_legend: bool, include_lone_images: bool,
                  include_sub_grids: bool, first_axes_processed: list[str], margin_size: int) -> Any:
    """Run ``cell(x, y, z, ix, iy, iz)`` for every combination and build the grids.

    Result images: the Z grid, one grid per Z value, then every cell (x fastest, then y, then z).
    """
    services = getattr(p, "services", None) or current_services()
    hor_texts = [[GridAnnotation(x)] for x in x_labels]
    ver_texts = [[GridAnnotation(y)] for y in y_labels]
    title_texts = [[GridAnnotation(z)] for z in z_labels]
    list_size = len(xs) * len(ys) * len(zs)
    state = services.state
    if state is not None:
        state.job_count = list_size * p.n_iter

    processed_result = None
    sizes = {"x": len(xs), "y": len(ys), "z": len(zs)}
    order = first_axes_processed
    indexes = [(a, b, c) for a in range(sizes[order[0]]) for b in range(sizes[order[1]]) for c in range(sizes[order[2]])]
    for ix, iy, iz, processed in _cells_in_order(indexes, order, xs, ys, zs, cell, state):
        if processed_result is None:
            processed_result = copy(processed)
            processed_result.images = [None] * list_size
            processed_result.all_prompts = [None] * list_size
            processed_result.all_seeds = [None] * list_size
            processed_result.infotexts = [None] * list_size
            processed_result.index_of_first_image = 1
        index = ix + iy * len(xs) + iz * len(xs) * len(ys)
        if processed.images:
            processed_result.images[index] = processed.images[0]
            processed_result.all_prompts[index] = processed.prompt
            processed_result.all_seeds[index] = processed.seed
            processed_result.infotexts[index] = processed.infotexts[0]

    if processed_result is None:
        return Processed(p, [])
    # a cell left empty by an interruption gets a blank picture so the grid keeps its shape
    blank_size = next((im.size for im in processed_result.images if im is not None), (p.width, p.height))
    processed_result.images = [im if im is not None else _blank(*blank_size) for im in processed_result.images]

    z_count = len(zs)
    for i in range(z_count):
        start = i * len(xs) * len(ys) + i  # the sub-grids inserted so far shift the cells by i
        end = start + len(xs) * len(ys)
        cells = processed_result.images[start:end]
        grid = image_saver.image_grid(services, cells, rows=len(ys))
        if draw_legend:
            max_w, max_h = map(max, zip(*(im.size for im in cells)))
            grid = draw_grid_annotations(grid, max_w, max_h, [list(map(copy, t)) for t in hor_texts],
                                         [list(map(copy, t)) for t in ver_texts], margin_size)
        processed_result.images.insert(i, grid)
        processed_result.all_prompts.insert(i, processed_result.all_prompts[start])
        processed_result.all_seeds.insert(i, processed_result.all_seeds[start])
        processed_result.infotexts.insert(i, processed_result.infotexts[start])

    sub_grids = processed_result.images[:z_count]
    z_grid = image_saver.image_grid(services, sub_grids, rows=1)
    if draw_legend:
        max_w, max_h = map(max, zip(*(im.size for im in sub_grids)))
        z_grid = draw_grid_annotations(z_grid, max_w, max_h, title_texts, [[GridAnnotation()]])
    processed_result.images.insert(0, z_grid)
    processed_result.infotexts.insert(0, processed_result.infotexts[0])
    return processed_result


def _blank(width: int, height: int) -> Any:
    return Image.new("RGB", (max(width, 1), max(height, 1)))


def _stopped(state: Any) -> bool:
    return state is not None and bool(state.interrupted or getattr(state, "stopping_generation", False))


def _cells_in_order(indexes: list, order: list[str], xs: list, ys: list, zs: list, cell: Callable[..., Any],
                    state: Any) -> Iterator[tuple[int, int, int, Any]]:
    """``(ix, iy, iz, processed)`` of every cell, in the order of ``indexes``.

    One at a time here; when an executor runs jobs on several workers (``--ray``), the cells run together, as many
    as it has workers, and still come back in this order (a cell not started before an interrupt is left out)."""
    positions = [dict(zip(order, combo)) for combo in indexes]
    executor = current_executor()
    parallel = min(len(positions), int(getattr(executor, "parallel_slots", lambda: 1)())) if executor else 1
    if parallel <= 1:
        for pos in positions:
            if _stopped(state):
                return
            ix, iy, iz = pos["x"], pos["y"], pos["z"]
            yield ix, iy, iz, cell(xs[ix], ys[iy], zs[iz], ix, iy, iz)
        return

    def run(pos: dict[str, int]) -> Any:
        if _stopped(state):
            return None
        return cell(xs[pos["x"]], ys[pos["y"]], zs[pos["z"]], pos["x"], pos["y"], pos["z"])

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="xyz-cell") as pool:
        # each cell in a copy of this context: a job run beside others keeps its own state in its cells
        futures = [(pos, pool.submit(contextvars.copy_context().run, run, pos)) for pos in positions]
        for pos, future in futures:
            processed = future.result()
            if processed is None:
                return
            yield pos["x"], pos["y"], pos["z"], processed


def check_grid_size(p: Any, xs: list, ys: list, zs: list) -> None:
    """Refuse a plot whose grid would exceed setting ``img_max_size_mp`` before generating anything."""
    services = getattr(p, "services", None) or current_services()
    limit = getattr(services.opts, "img_max_size_mp", 200)
    grid_mp = round(len(xs) * len(ys) * len(zs) * p.width * p.height / 1000000)
    if limit and grid_mp > limit:
        raise GenerationError(f"Error: Resulting grid would be too large ({grid_mp} MPixels) (max configured size "
                              f"is {limit} MPixels)")


def ensure_values(axis: str, opt: AxisOption, values: list) -> None:
    """An axis other than Nothing with no values is an error (A1111 would divide by zero later)."""
    if opt.label != "Nothing" and len(values) == 0:
        raise GenerationError(f"{axis} axis has no values")
