"""The settings of section "System" (id ``system``, category ``system``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import radio, slider


def options(console_prompts: bool) -> dict[str, OptionInfo]:
    return options_section(("system", "System", "system"), {
        "auto_launch_browser": radio("Local", "Automatically open webui in browser on startup", ["Disable", "Local", "Remote"]),
        "enable_console_prompts": OptionInfo(console_prompts, "Print prompts to console when generating with txt2img and img2img."),
        "show_warnings": OptionInfo(False, "Show warnings in console.").not_in_this_build("Python's own rules decide which warnings are printed").needs_reload_ui(),
        "show_gradio_deprecation_warnings": OptionInfo(True, "Show gradio deprecation warnings in console.").not_in_this_build("this gradio version has no such warnings to hide").needs_reload_ui(),
        "memmon_poll_rate": slider(8, "VRAM usage polls per second during generation.", 0, 40, 1).info("0 = disable"),
        "samples_log_stdout": OptionInfo(False, "Always print all generation info to standard output"),
        "multiple_tqdm": OptionInfo(True, "Add a second progress bar to the console that shows progress for an entire job.").not_in_this_build("the console shows one progress bar per job"),
        "enable_upscale_progressbar": OptionInfo(True, "Show a progress bar in the console for tiled upscaling.").not_in_this_build("tiled upscaling shows no console progress bar"),
        "print_hypernet_extra": OptionInfo(False, "Print extra hypernetwork information to console.").not_in_this_build("loading a hypernetwork prints nothing more"),
        "list_hidden_files": OptionInfo(True, "Load models/files in hidden directories").info('directory is hidden if its name starts with "."'),
        "disable_mmap_load_safetensors": OptionInfo(False, "Disable memmapping for loading .safetensors files.").not_in_this_build(".safetensors files are always memory-mapped")
            .info("fixes very slow loading speed in some cases"),
        "hide_ldm_prints": OptionInfo(True, "Prevent Stability-AI's ldm/sgm modules from printing noise to console.").not_in_this_build("this build has no Stability-AI ldm/sgm modules"),
        "dump_stacks_on_signal": OptionInfo(False, "Print stack traces before exiting the program with ctrl+c.").not_in_this_build("Ctrl+C stops the server without printing stacks"),
    })
