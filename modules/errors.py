"""A1111's ``modules.errors``: report an exception with a message, never raising from the report itself."""
from modules.core.errors import *  # noqa: F401,F403
from modules.core.errors import report  # noqa: F401
