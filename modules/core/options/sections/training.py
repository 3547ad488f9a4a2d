"""The settings of section "Training" (id ``training``, category ``training``)."""
from __future__ import annotations

from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import integer


def options() -> dict[str, OptionInfo]:
    return options_section(("training", "Training", "training"), {
        "unload_models_when_training": OptionInfo(False, "Move VAE and CLIP to RAM when training if possible. Saves VRAM."),
        "pin_memory": OptionInfo(False, "Turn on pin_memory for DataLoader. Makes training slightly faster but can increase memory usage."),
        "save_optimizer_state": OptionInfo(False, "Saves Optimizer state as separate *.optim file. Training of embedding or HN can be resumed with the matching optim file."),
        "save_training_settings_to_txt": OptionInfo(True, "Save textual inversion and hypernet settings to a text file whenever training starts."),
        "dataset_filename_word_regex": OptionInfo("", "Filename word regex"),
        "dataset_filename_join_string": OptionInfo(" ", "Filename join string"),
        "training_image_repeats_per_epoch": integer(1, "Number of repeats for a single input image per epoch; used only for displaying epoch number"),
        "training_write_csv_every": OptionInfo(500, "Save an csv containing the loss to log directory every N steps, 0 to disable"),
        "training_xattention_optimizations": OptionInfo(False, "Use cross attention optimizations while training"),
        "training_enable_tensorboard": OptionInfo(False, "Enable tensorboard logging."),
        "training_tensorboard_save_images": OptionInfo(False, "Save generated images within tensorboard."),
        "training_tensorboard_flush_every": OptionInfo(120, "How often, in seconds, to flush the pending tensorboard events and summaries to disk."),
    })
