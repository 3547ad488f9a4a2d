"""The prompt layer: syntax, schedules, chunking, emphasis, styles and textual-inversion files.

Each module has one job; nothing runs at import (torch is imported inside the
functions that need tensors).  Settings arrive as arguments; only the
A1111-compatibility modules (``modules.prompt_parser``, ``modules.styles``) read
``modules.shared``.

- :mod:`.attention`: ``(emphasis)``, ``[de-emphasis]``, ``(text:1.3)``, escapes, ``BREAK``.
- :mod:`.schedule_syntax`: reading ``[from:to:when]``, ``[a|b]`` and stray brackets exactly as A1111's
  lark parser does, in linear time.
- :mod:`.scheduling`: the per-step prompt texts.
- :mod:`.limits`: the bounds every prompt is checked against (length, nesting, ``BREAK``, chunks).
- :mod:`.composable`: ``AND`` with ``:weight`` suffixes.
- :mod:`.conditioning`, :mod:`.sd_conditioning`: schedules of encoded conds and picking them per step.
- :mod:`.cond_cache`: skip re-encoding when nothing that matters changed.
- :mod:`.comments`: ``#`` comments.
- :mod:`.chunking`, :mod:`.emphasis`, :mod:`.text_encoding`, :mod:`.token_counter`: 75-token chunks.
- :mod:`.prompt_encoder`, :mod:`.model_conditioning`: that path plugged into a loaded model's text
  encoders (A1111's "hijack"); :mod:`.legacy_emphasis`: the pre-1.0 path.
- :mod:`.styles`: ``styles.csv``.
- :mod:`.textual_inversion`: embedding files and the lookup by token ids.
"""
