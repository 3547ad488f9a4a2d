"""Built-in extension ScuNET: adds A1111's ``--scunet-models-path`` flag (folder of ScuNET models)."""
import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    # the default (models/ScuNET under the models dir) is filled in once the data dir is known
    parser.add_argument("--scunet-models-path", type=str, default=None, help="path to the folder with ScuNET models")
