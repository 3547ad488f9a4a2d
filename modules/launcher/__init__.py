"""The launcher: everything ``launch.py`` does before the web UI starts.

One job per module:

- :mod:`.settings` reads the environment overrides (``TORCH_COMMAND``, ``REQS_FILE``, ...).
- :mod:`.commands` runs sub-commands (``run``) and reports their failures.
- :mod:`.packages` answers "is it installed?" and runs pip (``run_pip``).
- :mod:`.requirements` checks a requirements file against the installed packages.
- :mod:`.git` reads the version of the checkout and clones/pins git repositories.
- :mod:`.repositories` lists the optional ``repositories/`` checkouts and clones them on request.
- :mod:`.extension_installs` runs extensions' ``install.py`` once per change.
- :mod:`.updates` handles ``--update-check`` and ``--update-all-extensions``.
- :mod:`.sysinfo` writes the ``--dump-sysinfo`` file.
- :mod:`.context` bundles what every step needs; :mod:`.prepare` runs the steps in
  A1111's order; :mod:`.main` is what ``launch.py`` calls.

Nothing here imports torch or gradio, and nothing happens at import.
"""
