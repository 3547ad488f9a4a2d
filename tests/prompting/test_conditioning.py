"""Cond schedules from an injected encoder, per-step reconstruction, padding, and the cond cache."""
from __future__ import annotations

import torch

from modules.prompting.cond_cache import CondCache, cond_cache_params, conds_with_caching
from modules.prompting.conditioning import (DictWithShape, MulticondLearnedConditioning, SdConditioning,
                                            get_learned_conditioning, get_multicond_learned_conditioning,
                                            reconstruct_cond_batch, reconstruct_multicond_batch, stack_conds)


class FakeModel:
    """Encodes each text as a [tokens, 2] tensor filled with a number chosen per text."""

    def __init__(self, values, tokens=None):
        self.values = values
        self.tokens = tokens or {}
        self.calls = []

    def get_learned_conditioning(self, texts):
        self.calls.append(list(texts))
        self.last_texts = texts
        rows = [torch.full((self.tokens.get(t, 3), 2), float(self.values[t])) for t in texts]
        return torch.stack(rows)


def test_schedule_of_conds_and_one_encoder_call_per_distinct_prompt():
    model = FakeModel({"a b": 1, "a c": 2, "x": 3})
    prompts = SdConditioning(["a [b:c:3]", "x", "a [b:c:3]"], width=768, height=512)
    res = get_learned_conditioning(model, prompts, 10)
    assert model.calls == [["a b", "a c"], ["x"]]
    assert model.last_texts.width == 768  # SDXL needs the size
    assert [e.end_at_step for e in res[0]] == [3, 10]
    assert res[0][0].cond[0, 0].item() == 1 and res[0][1].cond[0, 0].item() == 2
    assert res[2] is res[0]


def test_plain_callable_encoder_and_dict_conds():
    def encode(texts):
        n = len(texts)
        return {"crossattn": torch.arange(n, dtype=torch.float32).reshape(n, 1, 1).expand(n, 3, 2).clone(),
                "vector": torch.arange(n, dtype=torch.float32).reshape(n, 1).expand(n, 4).clone()}

    res = get_learned_conditioning(encode, ["[p:q:2]"], 4)
    batch = reconstruct_cond_batch(res, 3)
    assert isinstance(batch, DictWithShape) and batch.shape == (1, 3, 2)
    assert batch["crossattn"][0, 0, 0].item() == 1 and batch["vector"][0, 0].item() == 1


def test_reconstruct_cond_batch_picks_entry_per_step():
    model = FakeModel({"a b": 1, "a c": 2, "x": 3})
    res = get_learned_conditioning(model, ["a [b:c:3]", "x"], 10)
    for step, expected in [(1, [1, 3]), (3, [1, 3]), (4, [2, 3]), (10, [2, 3]), (11, [1, 3])]:
        batch = reconstruct_cond_batch(res, step)
        assert batch.shape == (2, 3, 2)
        assert batch[:, 0, 0].tolist() == expected, step  # past the end: first entry, as A1111


def test_multicond_weights_and_rows():
    model = FakeModel({"x": 1, " y": 2, "z": 3})
    c = get_multicond_learned_conditioning(model, ["x AND y :0.5", "z"], 20)
    assert isinstance(c, MulticondLearnedConditioning) and c.shape == (2,)
    assert [[p.weight for p in item] for item in c.batch] == [[1.0, 0.5], [1.0]]
    conds_list, tensor = reconstruct_multicond_batch(c, 5)
    assert conds_list == [[(0, 1.0), (1, 0.5)], [(2, 1.0)]]
    assert tensor[:, 0, 0].tolist() == [1, 2, 3]


def test_different_token_lengths_are_padded_with_the_last_vector():
    short = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    long = torch.zeros(5, 2)
    stacked = stack_conds([short, long])
    assert stacked.shape == (2, 5, 2)
    assert stacked[0].tolist() == [[1, 1], [2, 2], [2, 2], [2, 2], [2, 2]]

    model = FakeModel({"a": 1, " b": 2}, tokens={"a": 2, " b": 4})
    _, tensor = reconstruct_multicond_batch(get_multicond_learned_conditioning(model, ["a AND b"], 10), 1)
    assert tensor.shape == (2, 4, 2)


def test_cond_cache_reuses_until_a_parameter_changes():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    first, persistent = CondCache(), [None, None]
    key = cond_cache_params(["cat"], 20, None, False, clip_skip=1, checkpoint="m1", extra_network_data=None)
    assert conds_with_caching(compute, key, [first, persistent]) == 1
    assert conds_with_caching(compute, key, [first, persistent]) == 1
    other = cond_cache_params(["cat"], 20, None, False, clip_skip=2, checkpoint="m1", extra_network_data=None)
    assert conds_with_caching(compute, other, [first]) == 2
    # a second cache (e.g. the first pass's, for the hires pass) is also looked at
    assert conds_with_caching(compute, other, [CondCache(), first]) == 2
    assert len(calls) == 2
    first.reset()
    assert first == [None, None]


def test_replacements_on_the_compat_module_are_honoured(monkeypatch):
    from modules import prompt_parser

    seen = []
    original = prompt_parser.get_learned_conditioning

    def wrapped(model, prompts, *args):
        seen.append(list(prompts))
        return original(model, prompts, *args)

    monkeypatch.setattr(prompt_parser, "get_learned_conditioning", wrapped)
    model = FakeModel({"x": 1, " y": 2})
    prompt_parser.get_multicond_learned_conditioning(model, ["x AND y"], 10)
    assert seen == [["x", " y"]]
