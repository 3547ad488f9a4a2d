"""Command-line flags of the built-in Lora extension (read before the full flag parse)."""
from __future__ import annotations

import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    """Add ``--lora-dir`` and ``--lyco-dir-backcompat``; unset, they become ``<models>/Lora`` and
    ``<models>/LyCORIS`` when the paths are resolved."""
    parser.add_argument("--lora-dir", type=str, default=None,
                        help="folder of Lora networks (default: MODELS_DIR/Lora)")
    parser.add_argument("--lyco-dir-backcompat", type=str, default=None,
                        help="second folder of Lora/LyCORIS networks, kept for old setups (default: MODELS_DIR/LyCORIS)")
