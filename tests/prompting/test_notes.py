"""Prompt encoding returns its infotext notes with the conds (no side channel through model_hijack)."""
from __future__ import annotations

from modules.prompting.notes import PromptNotes, encode_with_notes, notes_sink


def fake_encoder(record: PromptNotes, hashes: str, comment: str | None = None):
    def encode() -> str:
        sink = notes_sink(record)
        previous = sink.extra_generation_params.get("TI hashes")
        sink.extra_generation_params["TI hashes"] = f"{hashes}, {previous}" if previous else hashes
        if comment:
            sink.comments.append(comment)
        return "conds"
    return encode


def test_an_encoding_returns_its_notes_and_leaves_the_record_alone():
    record = PromptNotes()
    encoding = encode_with_notes(fake_encoder(record, "a: 1", "truncated"))
    assert encoding.conds == "conds"
    assert encoding.notes.extra_generation_params == {"TI hashes": "a: 1"} and encoding.notes.comments == ["truncated"]
    assert record == PromptNotes()


def test_outside_an_encoding_notes_go_to_the_record():
    record = PromptNotes()
    fake_encoder(record, "a: 1")()
    assert record.extra_generation_params == {"TI hashes": "a: 1"}


def test_job_notes_gather_like_a1111s_single_record():
    job = PromptNotes()
    job.add(encode_with_notes(fake_encoder(PromptNotes(), "a: 1")).notes)
    job.add(encode_with_notes(fake_encoder(PromptNotes(), "b: 2", "c")).notes)
    assert job.extra_generation_params == {"TI hashes": "b: 2, a: 1"} and job.comments == ["c"]
    job.clear()
    assert job == PromptNotes()
