"""A1111's ``modules.textual_inversion.dataset``: the training set of a folder of pictures."""
from modules.training.dataset import DatasetEntry, PersonalizedBase, grouped_batches  # noqa: F401  (A1111 names)
