"""Caption search as BLIP ran it in A1111 1.10 (``text_decoder.generate`` of transformers 4.30, no sampling).

One picture at a time.  ``num_beams == 1`` is greedy search; more is beam search with length
penalty 1.0 and no early stopping.  Lengths count the prompt tokens (``min_length`` keeps the end
token away until the text, prompt included, is that long; ``max_length`` ends it).  A finished
beam's score is its summed log-probability over its length without the end token, as 4.30 did.
"""
from __future__ import annotations

from typing import Callable

import torch

StepFn = Callable[[torch.Tensor], torch.Tensor]
"""New token ids ``[rows, n]`` -> next-token logits ``[rows, vocab]`` (the model keeps its own cache)."""

ReorderFn = Callable[[torch.Tensor], None]
"""Keep the cached rows named by an index tensor, in that order (the beams that go on)."""


def generate(step: StepFn, reorder: ReorderFn, prompt: list[int], num_beams: int, min_length: int,
             max_length: int, eos_id: int) -> list[int]:
    """The token ids of the best text (prompt included, end token included when one was chosen).

    ``step`` must have been started for ``num_beams`` rows (the picture repeated once per beam).
    """
    if num_beams <= 1:
        return _greedy(step, prompt, min_length, max_length, eos_id)
    return _beams(step, reorder, prompt, num_beams, min_length, max_length, eos_id)


def _block_early_end(scores: torch.Tensor, length: int, min_length: int, eos_id: int) -> torch.Tensor:
    if length < min_length:
        scores[:, eos_id] = -float("inf")
    return scores


def _greedy(step: StepFn, prompt: list[int], min_length: int, max_length: int, eos_id: int) -> list[int]:
    seq = list(prompt)
    logits = step(torch.tensor([seq]))
    while True:
        scores = _block_early_end(logits.float(), len(seq), min_length, eos_id)
        token = int(scores[0].argmax())
        seq.append(token)
        if token == eos_id or len(seq) >= max_length:
            return seq
        logits = step(torch.tensor([[token]]))


class _Finished:
    """The best ``size`` finished beams (transformers' ``BeamHypotheses``, length penalty 1.0)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[float, list[int]]] = []

    @property
    def worst(self) -> float:
        return min(score for score, _ in self.items) if self.items else 1e9

    def add(self, seq: list[int], sum_logprobs: float) -> None:
        score = sum_logprobs / len(seq)
        if len(self.items) < self.size or score > self.worst:
            self.items.append((score, seq))
            if len(self.items) > self.size:
                self.items.remove(min(self.items, key=lambda item: item[0]))

    def is_done(self, best_sum_logprobs: float, length: int) -> bool:
        return len(self.items) >= self.size and self.worst >= best_sum_logprobs / length


def _beams(step: StepFn, reorder: ReorderFn, prompt: list[int], num_beams: int, min_length: int,
           max_length: int, eos_id: int) -> list[int]:
    seqs = [list(prompt) for _ in range(num_beams)]
    beam_scores = torch.full((num_beams,), -1e9)
    beam_scores[0] = 0  # every beam starts as the same text: only the first one may expand at the start
    finished = _Finished(num_beams)
    done = False
    logits = step(torch.tensor(seqs))
    while True:
        length = len(seqs[0])
        scores = _block_early_end(torch.log_softmax(logits.float(), dim=-1), length, min_length, eos_id)
        scores = scores + beam_scores[:, None]
        vocab = scores.shape[1]
        top_scores, top_ids = torch.topk(scores.view(-1), 2 * num_beams, largest=True, sorted=True)
        kept: list[tuple[float, int, int]] = []
        for rank, (score, flat_id) in enumerate(zip(top_scores.tolist(), top_ids.tolist())):
            beam, token = divmod(flat_id, vocab)
            if token == eos_id:
                if rank < num_beams:
                    finished.add(list(seqs[beam]), score)
            else:
                kept.append((score, token, beam))
            if len(kept) == num_beams:
                break
        done = done or finished.is_done(float(top_scores.max()), length)
        order = torch.tensor([beam for _, _, beam in kept])
        seqs = [seqs[beam] + [token] for _, token, beam in kept]
        beam_scores = torch.tensor([score for score, _, _ in kept])
        reorder(order)
        if done or len(seqs[0]) >= max_length:
            break
        logits = step(torch.tensor([[token] for _, token, _ in kept]))
    if not done:
        for seq, score in zip(seqs, beam_scores.tolist()):
            finished.add(seq, score)
    return max(finished.items, key=lambda item: item[0])[1]
