"""A1111's ``modules.textual_inversion.learn_schedule``: learning-rate schedules (``0.005:100, 1e-3:1000``)."""
from modules.training.learn_rate import LearnRateError, LearnRateScheduler, parse_schedule  # noqa: F401  (A1111 names)
