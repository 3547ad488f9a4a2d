"""The scripts-and-extensions layer: the ``Script`` base class, the per-tab runners, the
``script_callbacks`` registry, load order from ``metadata.ini``, and postprocessing scripts.

Extensions import it through A1111's paths (``modules.scripts``, ``modules.script_callbacks``,
``modules.scripts_postprocessing``); those modules re-export what lives here.  Every call into
extension code goes through :mod:`modules.scripting.reporting`, so one broken extension is
reported with its file and never stops a generation or the server (STYLE rule 7).
"""
