"""Public links (``--share``, ``--ngrok``): the code lives in :mod:`modules.server.share_links`."""
from modules.server.share_links import (NgrokToken, ShareUnavailable, connect_ngrok, create_gradio_share_link,
                                        open_public_links)

__all__ = ["NgrokToken", "ShareUnavailable", "connect_ngrok", "create_gradio_share_link", "open_public_links"]
