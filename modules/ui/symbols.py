"""The one-character button labels of A1111's UI (emoji; tests and user CSS match on them)."""
from __future__ import annotations

random_symbol = "\U0001f3b2\ufe0f"  # 🎲️ seed := -1
reuse_symbol = "\u267b\ufe0f"  # ♻️ seed of the selected picture
paste_symbol = "\u2199\ufe0f"  # ↙️ read parameters from the prompt / params.txt
refresh_symbol = "\U0001f504"  # 🔄
save_symbol = "\U0001f4be"  # 💾
zip_symbol = "\U0001f5c3\ufe0f"  # 🗃️
folder_symbol = "\U0001f4c2"  # 📂
apply_style_symbol = "\U0001f4cb"  # 📋 styles into the prompt
edit_style_symbol = "\U0001f58c\ufe0f"  # 🖌️
clear_prompt_symbol = "\U0001f5d1\ufe0f"  # 🗑️
extra_networks_symbol = "\U0001f3b4"  # 🎴
switch_values_symbol = "\u21c5"  # ⇅ swap width and height
restore_progress_symbol = "\U0001f300"  # 🌀
detect_image_size_symbol = "\U0001f4d0"  # 📐
send_img2img_symbol = "\U0001f5bc\ufe0f"  # 🖼️
send_inpaint_symbol = "\U0001f3a8\ufe0f"  # 🎨️
send_extras_symbol = "\U0001f4d0"  # 📐
upscale_symbol = "\u2728"  # ✨ hires pass on the selected picture
interrogate_symbol = "\U0001f4ce"  # 📎
deepbooru_symbol = "\U0001f4e6"  # 📦

__all__ = [name for name in dir() if name.endswith("_symbol")]
