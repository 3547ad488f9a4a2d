"""Built-in extension SwinIR: adds A1111's ``--swinir-models-path`` flag (folder of SwinIR models)."""
import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    # the default (models/SwinIR under the models dir) is filled in once the data dir is known
    parser.add_argument("--swinir-models-path", type=str, default=None, help="path to the folder with SwinIR models")
