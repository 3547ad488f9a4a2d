"""``--dump-sysinfo``: the system report lives in :mod:`modules.core.sysinfo` (the running UI serves it too);
the launcher's names stay importable from here."""
from __future__ import annotations

from modules.core.sysinfo import (REDACTED, SECRET_FLAGS, SECRET_WORDS, collect_sysinfo, is_secret_name,
                                  is_secret_setting, redact_argv, redact_config, redact_environ, redact_url_passwords,
                                  sysinfo_text, write_sysinfo)

__all__ = ["REDACTED", "SECRET_FLAGS", "SECRET_WORDS", "collect_sysinfo", "is_secret_name", "is_secret_setting",
           "redact_argv", "redact_config", "redact_environ", "redact_url_passwords", "sysinfo_text", "write_sysinfo"]
