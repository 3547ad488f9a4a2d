"""What tests/conftest.py sets up for the whole suite before any test module loads."""
from __future__ import annotations

import os
import subprocess
import sys


def test_torch_thread_waiters_sleep_in_the_tests_and_their_servers():
    """OMP_WAIT_POLICY=PASSIVE reaches the test process and what it starts (the browser tests' servers copy
    ``os.environ``): with libgomp's spinning waiters, a tiny UNet step on two shared cores took 30-100 times
    longer."""
    assert os.environ.get("OMP_WAIT_POLICY") == "PASSIVE"
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "PASSIVE"
