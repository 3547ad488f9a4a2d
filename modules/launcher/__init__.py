"""The launcher: everything ``launch.py`` does before the web UI starts.

One job per module:

- :mod:`.settings` reads the environment overrides (``TORCH_COMMAND``, ``REQS_FILE``, ...).
- :mod:`.packages` answers "is it installed?" and runs pip (``run_pip``).
- :mod:`.requirements` checks a requirements file against the installed packages.
- :mod:`.repositories` lists the optional ``repositories/`` checkouts and clones them on request.
- :mod:`.updates` handles ``--update-check`` and ``--update-all-extensions``.
- :mod:`.sysinfo` writes the ``--dump-sysinfo`` file.
- :mod:`.context` bundles what every step needs; :mod:`.prepare` runs the steps in
  A1111's order; :mod:`.main` is what ``launch.py`` calls.
- :mod:`.extension_api` holds A1111's ``launch_utils`` functions for extensions' ``install.py``.

Running sub-commands (:mod:`modules.core.commands`), git (:mod:`modules.core.git`) and extensions'
``install.py`` once per change (:mod:`modules.core.extension_installs`) live in ``core``: the runtime's
extension manager uses them too.

Nothing here imports torch or gradio, and nothing happens at import.
"""
