"""The "X/Y/Z plot" script: one generation per combination of up to three axes' values, in labelled grids."""
from __future__ import annotations

from copy import copy
from typing import Any

from modules import scripts


class Script(scripts.Script):
    """X/Y/Z plot (txt2img and img2img)."""

    def title(self) -> str:
        return "X/Y/Z plot"

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        from modules.builtin_scripts.xyz_axes import options_for_tab
        from modules.ui_components import ToolButton

        options = options_for_tab(is_img2img)
        labels = [x.label for x in options]
        rows = {}
        with gr.Row():
            with gr.Column(scale=19):
                for axis, default in (("x", 1), ("y", 0), ("z", 0)):
                    with gr.Row():
                        kind = gr.Dropdown(label=f"{axis.upper()} type", choices=labels, value=labels[default],
                                           type="index", elem_id=self.elem_id(f"{axis}_type"))
                        values = gr.Textbox(label=f"{axis.upper()} values", lines=1,
                                            elem_id=self.elem_id(f"{axis}_values"))
                        values_dropdown = gr.Dropdown(label=f"{axis.upper()} values", visible=False, multiselect=True,
                                                      interactive=True)
                        fill = ToolButton(value="\U0001f4d2", elem_id=f"xyz_grid_fill_{axis}_tool_button",
                                          visible=False)
                    rows[axis] = (kind, values, values_dropdown, fill)
        with gr.Row(variant="compact", elem_id="axis_options"):
            with gr.Column():
                draw_legend = gr.Checkbox(label="Draw legend", value=True, elem_id=self.elem_id("draw_legend"))
                no_fixed_seeds = gr.Checkbox(label="Keep -1 for seeds", value=False,
                                             elem_id=self.elem_id("no_fixed_seeds"))
                with gr.Row():
                    vary = [gr.Checkbox(label=f"Vary seeds for {a}", value=False, min_width=80,
                                        elem_id=self.elem_id(f"vary_seeds_{a.lower()}"),
                                        info=f"Use different seeds for images along {a} axis.") for a in "XYZ"]
            with gr.Column():
                include_lone_images = gr.Checkbox(label="Include Sub Images", value=False,
                                                  elem_id=self.elem_id("include_lone_images"))
                include_sub_grids = gr.Checkbox(label="Include Sub Grids", value=False,
                                                elem_id=self.elem_id("include_sub_grids"))
                csv_mode = gr.Checkbox(label="Use text inputs instead of dropdowns", value=False,
                                       elem_id=self.elem_id("csv_mode"))
            with gr.Column():
                margin_size = gr.Slider(label="Grid margins (px)", minimum=0, maximum=500, value=0, step=2,
                                        elem_id=self.elem_id("margin_size"))
        with gr.Row(variant="compact", elem_id="swap_axes"):
            swaps = {("x", "y"): gr.Button(value="Swap X/Y axes", elem_id="xy_grid_swap_axes_button"),
                     ("y", "z"): gr.Button(value="Swap Y/Z axes", elem_id="yz_grid_swap_axes_button"),
                     ("x", "z"): gr.Button(value="Swap X/Z axes", elem_id="xz_grid_swap_axes_button")}

        def select_axis(index: int | None, text: str, chosen: list | None, use_text: bool) -> tuple:
            opt = options[index or 0]
            has_choices = opt.choices is not None and not use_text
            choices = opt.choices() if opt.choices is not None else []
            kept = [x for x in (chosen or []) if x in choices]
            return (gr.update(visible=opt.choices is not None),
                    gr.update(visible=not has_choices, value=text),
                    gr.update(choices=choices, value=kept, visible=has_choices))

        def fill(index: int | None, use_text: bool) -> tuple:
            opt = options[index or 0]
            if opt.choices is None:
                return gr.update(), gr.update()
            choices = opt.choices()
            return gr.update(value=", ".join(choices)) if use_text else gr.update(), \
                gr.update(value=choices) if not use_text else gr.update()

        for kind, values, values_dropdown, fill_button in rows.values():
            kind.change(select_axis, inputs=[kind, values, values_dropdown, csv_mode],
                        outputs=[fill_button, values, values_dropdown])
            fill_button.click(fill, inputs=[kind, csv_mode], outputs=[values, values_dropdown])

        for (a, b), button in swaps.items():
            first, second = rows[a][:3], rows[b][:3]
            button.click(lambda *v: (*v[3:], *v[:3]), inputs=[*first, *second], outputs=[*first, *second])

        self.infotext_fields = [
            (rows["x"][0], "X Type"), (rows["x"][1], "X Values"),
            (rows["y"][0], "Y Type"), (rows["y"][1], "Y Values"),
            (rows["z"][0], "Z Type"), (rows["z"][1], "Z Values"),
        ]
        return [rows["x"][0], rows["x"][1], rows["x"][2], rows["y"][0], rows["y"][1], rows["y"][2],
                rows["z"][0], rows["z"][1], rows["z"][2], draw_legend, include_lone_images, include_sub_grids,
                no_fixed_seeds, *vary, margin_size, csv_mode]

    def run(self, p: Any, x_type: Any = 1, x_values: str = "", x_values_dropdown: list | None = None,
            y_type: Any = 0, y_values: str = "", y_values_dropdown: list | None = None, z_type: Any = 0,
            z_values: str = "", z_values_dropdown: list | None = None, draw_legend: bool = True,
            include_lone_images: bool = False, include_sub_grids: bool = False, no_fixed_seeds: bool = False,
            vary_seeds_x: bool = False, vary_seeds_y: bool = False, vary_seeds_z: bool = False,
            margin_size: int = 0, csv_mode: bool = False) -> Any:
        from modules import images, shared
        from modules.builtin_scripts import xyz_plot
        from modules.builtin_scripts.output import ensure_output_dirs
        from modules.builtin_scripts.xyz_axes import options_for_tab
        from modules.processing import create_infotext, fix_seed, process_images

        ensure_output_dirs(p)
        options = options_for_tab(bool(self.is_img2img))
        x_opt, y_opt, z_opt = (_axis(options, t) for t in (x_type, y_type, z_type))
        if not no_fixed_seeds:
            fix_seed(p)
        if not shared.opts.return_grid:
            p.batch_size = 1

        # text typed into an axis with choices still counts when the dropdown was never used (API callers)
        def values_of(opt: Any, text: str, dropdown: list | None) -> list:
            use_text = csv_mode or opt.choices is None or not dropdown
            return xyz_plot.process_axis(opt, text or "", dropdown, use_text, p)

        xs = values_of(x_opt, x_values, x_values_dropdown)
        ys = values_of(y_opt, y_values, y_values_dropdown)
        zs = values_of(z_opt, z_values, z_values_dropdown)
        for axis, opt, vals in (("X", x_opt, xs), ("Y", y_opt, ys), ("Z", z_opt, zs)):
            xyz_plot.ensure_values(axis, opt, vals)
        if not no_fixed_seeds:
            xs, ys, zs = (xyz_plot.fix_axis_seeds(o, v) for o, v in ((x_opt, xs), (y_opt, ys), (z_opt, zs)))
        xyz_plot.check_grid_size(p, xs, ys, zs)

        grid_infotext: list[str | None] = [None] * (1 + len(zs))
        axis_text = {"X": (x_opt, x_values, x_values_dropdown, xs), "Y": (y_opt, y_values, y_values_dropdown, ys),
                     "Z": (z_opt, z_values, z_values_dropdown, zs)}

        def cell(x: Any, y: Any, z: Any, ix: int, iy: int, iz: int) -> Any:
            pc = copy(p)
            pc.styles = list(pc.styles)
            pc.override_settings = dict(pc.override_settings)
            pc.extra_generation_params = dict(pc.extra_generation_params)
            x_opt.apply(pc, x, xs)
            y_opt.apply(pc, y, ys)
            z_opt.apply(pc, z, zs)
            if vary_seeds_x:
                pc.seed += ix
            if vary_seeds_y:
                pc.seed += iy * len(xs)
            if vary_seeds_z:
                pc.seed += iz * len(xs) * len(ys)
            res = process_images(pc)
            if grid_infotext[0] is None and ix == 0 and iy == 0 and iz == 0:
                pc.extra_generation_params["Script"] = self.title()
                for name, (opt, text, dropdown, vals) in axis_text.items():
                    if opt.label == "Nothing":
                        continue
                    pc.extra_generation_params[f"{name} Type"] = opt.label
                    pc.extra_generation_params[f"{name} Values"] = text if csv_mode or opt.choices is None or not dropdown \
                        else ", ".join(map(str, dropdown))
                    if opt.label in xyz_plot.SEED_AXES and not no_fixed_seeds:
                        pc.extra_generation_params[f"Fixed {name} Values"] = ", ".join(str(v) for v in vals)
                grid_infotext[0] = create_infotext(pc, pc.all_prompts, pc.all_seeds, pc.all_subseeds)
            if grid_infotext[1 + iz] is None and ix == 0 and iy == 0:
                pc.extra_generation_params[z_opt.label] = z
                grid_infotext[1 + iz] = create_infotext(pc, pc.all_prompts, pc.all_seeds, pc.all_subseeds)
            return res

        order = xyz_plot.iteration_order({"x": x_opt.cost, "y": y_opt.cost, "z": z_opt.cost})
        processed = xyz_plot.draw_xyz_grid(
            p, xs, ys, zs, [x_opt.format_value(x_opt, x) for x in xs], [y_opt.format_value(y_opt, y) for y in ys],
            [z_opt.format_value(z_opt, z) for z in zs], cell, draw_legend, include_lone_images, include_sub_grids,
            order, margin_size)
        if not processed.images or grid_infotext[0] is None:
            return processed

        z_count = len(zs)
        # A1111 gives the Z grid no prompt/seed entry, so those lists ran one short of the images; keep them aligned
        processed.all_prompts.insert(0, processed.all_prompts[0])
        processed.all_seeds.insert(0, processed.all_seeds[0])
        processed.infotexts[0] = grid_infotext[0]
        for i in range(z_count):
            processed.infotexts[1 + i] = grid_infotext[1 + i] or processed.infotexts[1 + i]
        for image, text in zip(processed.images[:1 + z_count], processed.infotexts):
            if shared.opts.enable_pnginfo:
                image.info["parameters"] = text

        if shared.opts.grid_save:
            grid_count = z_count + 1 if z_count > 1 else 1
            for g in range(grid_count):
                images.save_image(processed.images[g], p.outpath_grids, "xyz_grid", info=processed.infotexts[g],
                                  extension=shared.opts.grid_format, prompt=processed.all_prompts[g],
                                  seed=processed.all_seeds[g], grid=True, p=processed)
                if not include_sub_grids:
                    break

        if not include_sub_grids:
            for _ in range(z_count):
                del processed.images[1]
                del processed.all_prompts[1]
                del processed.all_seeds[1]
                del processed.infotexts[1]
        if not include_lone_images:
            keep = 1 + (z_count if include_sub_grids else 0)
            processed.images = processed.images[:keep]
            processed.infotexts = processed.infotexts[:keep]
            processed.all_prompts = processed.all_prompts[:keep]
            processed.all_seeds = processed.all_seeds[:keep]
        return processed


def _axis(options: list, value: Any) -> Any:
    """An axis type given as the dropdown index or as its label (API callers)."""
    if value is None:
        return options[0]
    if isinstance(value, str) and not value.isdigit():
        for opt in options:
            if opt.label.lower() == value.lower():
                return opt
        raise ValueError(f"Unknown X/Y/Z axis type: {value}")
    return options[int(value)]
