"""The "Prompts from file or textbox" script: one job per line, each line optionally carrying ``--flags``."""
from __future__ import annotations

import copy
import random
from typing import Any

from modules import scripts


class Script(scripts.Script):
    """Prompts from file or textbox (txt2img and img2img)."""

    def title(self) -> str:
        return "Prompts from file or textbox"

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        checkbox_iterate = gr.Checkbox(label="Iterate seed every line", value=False,
                                       elem_id=self.elem_id("checkbox_iterate"))
        checkbox_iterate_batch = gr.Checkbox(label="Use same random seed for all lines", value=False,
                                             elem_id=self.elem_id("checkbox_iterate_batch"))
        prompt_position = gr.Radio(["start", "end"], label="Insert prompts at the",
                                   elem_id=self.elem_id("prompt_position"), value="start")
        prompt_txt = gr.Textbox(label="List of prompt inputs", lines=1, elem_id=self.elem_id("prompt_txt"))
        file = gr.File(label="Upload prompt inputs", type="binary", elem_id=self.elem_id("file"))

        def load_prompt_file(data: bytes | None) -> tuple:
            if data is None:
                return gr.update(), gr.update(), gr.update(lines=7)
            lines = [x.strip() for x in data.decode("utf8", errors="ignore").split("\n")]
            return None, "\n".join(lines), gr.update(lines=7)

        file.change(fn=load_prompt_file, inputs=[file], outputs=[file, prompt_txt, prompt_txt], show_progress=False)
        # a long list makes the textbox grow
        prompt_txt.change(lambda tb: gr.update(lines=7) if "\n" in tb else gr.update(lines=2), inputs=[prompt_txt],
                          outputs=[prompt_txt], show_progress=False)
        return [checkbox_iterate, checkbox_iterate_batch, prompt_position, prompt_txt]

    def run(self, p: Any, checkbox_iterate: bool = False, checkbox_iterate_batch: bool = False,
            prompt_position: str = "start", prompt_txt: str = "") -> Any:
        from modules import errors, shared
        from modules.builtin_scripts.prompt_lines import cmdargs
        from modules.processing import Processed, process_images

        lines = [x for x in (x.strip() for x in (prompt_txt or "").splitlines()) if x]
        p.do_not_save_grid = True
        job_count = 0
        jobs = []
        for line in lines:
            args: dict[str, Any] = {"prompt": line}
            if "--" in line:
                try:
                    args = cmdargs(line)
                except Exception:
                    errors.report(f"Error parsing line {line} as commandline", exc_info=True)
            job_count += args.get("n_iter", p.n_iter)
            jobs.append(args)
        print(f"Will process {len(lines)} lines in {job_count} jobs.")
        if (checkbox_iterate or checkbox_iterate_batch) and p.seed == -1:
            p.seed = int(random.randrange(4294967294))
        state = shared.state
        if state is not None:
            state.job_count = job_count

        images: list = []
        all_prompts: list = []
        infotexts: list = []
        for args in jobs:
            if state is not None:
                state.job = f"{state.job_no + 1} out of {state.job_count}"
            copy_p = copy.copy(p)
            # each job gets its own containers: A1111 shared them, so one line's overrides leaked into the next
            copy_p.override_settings = dict(p.override_settings)
            copy_p.extra_generation_params = dict(p.extra_generation_params)
            copy_p.styles = list(p.styles)
            for key, value in args.items():
                if key == "sd_model":
                    copy_p.override_settings["sd_model_checkpoint"] = value
                else:
                    setattr(copy_p, key, value)
            if args.get("prompt") and p.prompt:
                copy_p.prompt = (f"{args['prompt']} {p.prompt}" if prompt_position == "start"
                                 else f"{p.prompt} {args['prompt']}")
            if args.get("negative_prompt") and p.negative_prompt:
                copy_p.negative_prompt = (f"{args['negative_prompt']} {p.negative_prompt}" if prompt_position == "start"
                                          else f"{p.negative_prompt} {args['negative_prompt']}")
            proc = process_images(copy_p)
            images += proc.images
            if checkbox_iterate:
                p.seed = p.seed + (p.batch_size * p.n_iter)
            all_prompts += proc.all_prompts
            infotexts += proc.infotexts
        return Processed(p, images, p.seed, "", all_prompts=all_prompts, infotexts=infotexts)
