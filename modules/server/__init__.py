"""The top of the house: the HTTP server that mounts the UI and the API, and share links.

Above ``ui`` and ``api`` (it builds both into one app); ``webui.py`` calls it.
"""
