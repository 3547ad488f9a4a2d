"""The "Prompt matrix" script: every combination of the ``|``-separated prompt parts, in a labelled grid."""
from __future__ import annotations

import math
from typing import Any

from modules import scripts


def matrix_prompts(text: str, put_at_start: bool, delimiter: str) -> tuple[list[str], list[str]]:
    """(the parts, one prompt per combination): the first part always, each other part when its bit is set."""
    parts = text.split("|")
    prompts = []
    for combination in range(2 ** (len(parts) - 1)):
        selected = [part.strip().strip(",") for n, part in enumerate(parts[1:]) if combination & (1 << n)]
        selected = selected + [parts[0]] if put_at_start else [parts[0]] + selected
        prompts.append(delimiter.join(selected))
    return parts, prompts


class Script(scripts.Script):
    """Prompt matrix (txt2img and img2img)."""

    def title(self) -> str:
        return "Prompt matrix"

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        gr.HTML("<br />")
        with gr.Row():
            with gr.Column():
                put_at_start = gr.Checkbox(label="Put variable parts at start of prompt", value=False,
                                           elem_id=self.elem_id("put_at_start"))
                different_seeds = gr.Checkbox(label="Use different seed for each picture", value=False,
                                              elem_id=self.elem_id("different_seeds"))
            with gr.Column():
                prompt_type = gr.Radio(["positive", "negative"], label="Select prompt",
                                       elem_id=self.elem_id("prompt_type"), value="positive")
                variations_delimiter = gr.Radio(["comma", "space"], label="Select joining char",
                                                elem_id=self.elem_id("variations_delimiter"), value="comma")
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
        return [put_at_start, different_seeds, prompt_type, variations_delimiter, margin_size]

    def run(self, p: Any, put_at_start: bool = False, different_seeds: bool = False, prompt_type: str = "positive",
            variations_delimiter: str = "comma", margin_size: int = 0) -> Any:
        from modules import images, shared
        from modules.builtin_scripts.grid_legend import draw_prompt_matrix
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.processing import fix_seed, process_images

        fix_seed(p)
        ensure_output_dirs(p)
        if prompt_type not in ("positive", "negative"):
            raise ValueError(f"Unknown prompt type {prompt_type}")
        if variations_delimiter not in ("comma", "space"):
            raise ValueError(f"Unknown variations delimiter {variations_delimiter}")

        prompt = p.prompt if prompt_type == "positive" else p.negative_prompt
        original_prompt = prompt[0] if isinstance(prompt, list) else prompt
        positive_prompt = p.prompt[0] if isinstance(p.prompt, list) else p.prompt
        parts, all_prompts = matrix_prompts(original_prompt, put_at_start,
                                            ", " if variations_delimiter == "comma" else " ")
        p.n_iter = math.ceil(len(all_prompts) / p.batch_size)
        p.do_not_save_grid = True
        print(f"Prompt matrix will create {len(all_prompts)} images using a total of {p.n_iter} batches.")
        if prompt_type == "positive":
            p.prompt = all_prompts
        else:
            p.negative_prompt = all_prompts
            # one positive prompt per picture, so both lists have the same length
            p.prompt = [positive_prompt] * len(all_prompts)
        p.seed = [p.seed + (i if different_seeds else 0) for i in range(len(all_prompts))]
        p.prompt_for_display = positive_prompt
        processed = process_images(p)

        grid = images.image_grid(processed.images, p.batch_size, rows=1 << ((len(parts) - 1) // 2))
        grid = draw_prompt_matrix(grid, processed.images[0].width, processed.images[0].height, parts, margin_size)
        processed.images.insert(0, grid)
        processed.index_of_first_image = 1
        processed.infotexts.insert(0, processed.infotexts[0])
        if shared.opts.grid_save:
            images.save_image(processed.images[0], p.outpath_grids, "prompt_matrix", extension=shared.opts.grid_format,
                              prompt=original_prompt, seed=processed.seed, grid=True, p=p)
        return processed
