"""The settings of section "Profiler" (id ``profiler``, category ``system``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionHTML, OptionInfo, options_section


def options() -> dict[str, OptionInfo]:
    return options_section(("profiler", "Profiler", "system"), {
        "profiling_explanation": OptionHTML("""
Those settings allow you to enable torch profiler when generating pictures.
Profiling allows you to see which code uses how much of computer's resources during generation.
Each generation writes its own profile to one file, overwriting previous.
The file can be viewed in <a href="chrome:tracing">Chrome</a>, or on a <a href="https://ui.perfetto.dev/">Perfetto</a> web site.
Warning: writing profile can take a lot of time, up to 30 seconds, and the file itelf can be around 500MB in size.
"""),
        "profiling_enable": OptionInfo(False, "Enable profiling"),
        "profiling_activities": OptionInfo(["CPU"], "Activities", "CheckboxGroup", {"choices": ["CPU", "CUDA"]}),
        "profiling_record_shapes": OptionInfo(True, "Record shapes"),
        "profiling_profile_memory": OptionInfo(True, "Profile memory"),
        "profiling_with_stack": OptionInfo(True, "Include python stack"),
        "profiling_filename": OptionInfo("trace.json", "Profile filename"),
    })
