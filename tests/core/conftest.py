"""The settings' app-dependent lists are registered as the start-up registers them (no bootstrap runs here)."""
from __future__ import annotations

import pytest

from modules.runtime.choice_providers import register_choice_providers


@pytest.fixture(autouse=True, scope="session")
def choice_providers_registered():
    register_choice_providers()
