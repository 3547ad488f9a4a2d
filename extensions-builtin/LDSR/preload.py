"""Built-in extension LDSR: adds A1111's ``--ldsr-models-path`` flag (folder of LDSR (latent-diffusion upscaler) models)."""
import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    # the default (models/LDSR under the models dir) is filled in once the data dir is known
    parser.add_argument("--ldsr-models-path", type=str, default=None, help="path to the folder with LDSR (latent-diffusion upscaler) models")
