"""A1111's ``modules.textual_inversion.saving_settings``: the settings file written when training starts."""
from modules.training.logs import save_settings_to_file  # noqa: F401  (A1111 name)
