"""Fuzzing every operation of the OpenAPI schema (schemathesis): no 5xx, and the server keeps answering.

Bounded: a few valid and a few invalid bodies/queries per operation (a few hundred cases in all),
on an API-only app without a checkpoint so generation requests end quickly.
"""
from __future__ import annotations

import time

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

POSITIVE_EXAMPLES = 8
NEGATIVE_EXAMPLES = 6


def test_no_operation_answers_5xx_and_the_server_keeps_answering(api_client):
    from schemathesis import GenerationMode

    client = api_client(raise_server_exceptions=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 45
    failures: list[str] = []
    cases = {"n": 0}
    start = time.time()

    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=strategy)
            def run(case) -> None:
                cases["n"] += 1
                try:
                    response = case.call()
                except Exception as e:  # the app raised through the test client: a crash
                    failures.append(f"{case.method} {case.formatted_path}: {type(e).__name__}: {e}")
                    return
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                    f"{response.text[:300]}  body={str(case.body)[:200]}")

            try:
                run()
            except Unsatisfiable:
                # an operation without a body or parameters has no invalid input to make
                assert mode == GenerationMode.NEGATIVE, operation.label

    print("fuzz cases:", cases["n"])
    assert not failures, "\n".join(failures[:20])
    assert cases["n"] >= 200, cases
    assert time.time() - start < 60
    # still serving, and still generating-ready
    assert client.get("/sdapi/v1/progress").status_code == 200
    assert client.get("/sdapi/v1/sd-models").status_code == 200
    r = client.post("/sdapi/v1/txt2img", json={"steps": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "steps"]
