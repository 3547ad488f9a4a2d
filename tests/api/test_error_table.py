"""The API's table of client errors names exceptions that exist: it looks them up by module name (so that the
API imports none of them), and a module that moved would silently turn its 4xx into a 500."""
from __future__ import annotations

import importlib

import pytest

from modules.api.errors import CLIENT_ERRORS, client_error


@pytest.mark.parametrize(("module_name", "class_name", "status", "key"), CLIENT_ERRORS,
                         ids=[f"{m}.{c}" for m, c, _, _ in CLIENT_ERRORS])
def test_every_client_error_names_an_exception_class(module_name, class_name, status, key):
    cls = getattr(importlib.import_module(module_name), class_name, None)
    assert isinstance(cls, type) and issubclass(cls, BaseException), f"{module_name}.{class_name} is not an exception"
    assert 400 <= status < 500
    if cls.__init__ is BaseException.__init__ or cls.__init__ is Exception.__init__:
        answer = client_error(cls("bad input"))
        assert answer is not None and answer.status_code == status
