"""Network files travel to workers that lack them, by hash (modules/distributed/file_shipping.py), without a cluster:
the orchestrator's side lists a job's files on a started app, the worker's side writes them into other folders.
The object store is a stand-in whose references are the bytes themselves."""
from __future__ import annotations

import hashlib
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

from modules.distributed import file_shipping
from modules.distributed.file_shipping import NetworkFileError, FileStore, ShippedFile, ensure_files, job_files


@pytest.fixture
def orchestrator_app(app, data_dir):
    shared = app("sd1")
    lora = data_dir / "models" / "Lora" / "styles" / "inky.safetensors"
    lora.parent.mkdir(parents=True)
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.ones(1, 4)}, str(lora))
    hypernetwork = data_dir / "models" / "hypernetworks" / "sketch.pt"
    hypernetwork.parent.mkdir(parents=True, exist_ok=True)
    hypernetwork.write_bytes(b"a hypernetwork's bytes (listing reads names only)")
    vae = data_dir / "models" / "VAE" / "soft.vae.safetensors"
    vae.parent.mkdir(parents=True, exist_ok=True)
    save_file({"decoder.conv_in.weight": torch.zeros(1)}, str(vae))
    sys.modules[file_shipping.LORA_EXTENSION_MODULE].list_available_networks()
    shared.hypernetworks_registry.refresh()
    shared.vae_files.refresh()
    return shared, {"lora": lora, "hypernetwork": hypernetwork, "vae": vae}


def test_a_jobs_prompts_and_vae_name_its_files(orchestrator_app):
    shared, paths = orchestrator_app
    files = job_files(shared, ["a cat <lora:inky:0.6>, <hypernet:sketch:1>", "", "<lora:unknown:1>"],
                      "soft.vae.safetensors")
    assert sorted(files) == sorted([("lora", str(paths["lora"]), "styles/inky.safetensors"),
                                    ("hypernetwork", str(paths["hypernetwork"]), "sketch.pt"),
                                    ("vae", str(paths["vae"]), "soft.vae.safetensors")])
    assert job_files(shared, ["a plain prompt"], None) == []


def test_each_content_is_put_in_the_store_once(orchestrator_app):
    shared, paths = orchestrator_app
    puts = []
    store = FileStore(lambda data: puts.append(data) or data)
    files = job_files(shared, ["<lora:inky:1>"], None)
    first = store.manifest(files)
    again = store.manifest(files)
    assert first == again and len(puts) == 1
    item = first[0]
    assert (item.role, item.relative, item.size) == ("lora", "styles/inky.safetensors", paths["lora"].stat().st_size)
    assert item.sha256 == hashlib.sha256(paths["lora"].read_bytes()).hexdigest() and item.data == puts[0]


def worker_services(root):
    """A worker's view of its folders on another node (no registries to refresh but LoRA's, which lists its dirs)."""
    cmd_opts = types.SimpleNamespace(lora_dir=str(root / "Lora"), lyco_dir_backcompat=None,
                                     hypernetwork_dir=str(root / "hypernetworks"))
    paths = types.SimpleNamespace(embeddings_dir=str(root / "embeddings"))
    return types.SimpleNamespace(cmd_opts=cmd_opts, paths=paths, embeddings=None, vae_files=None,
                                 hypernetworks_registry=None)


def shipped(role: str, relative: str, data: bytes) -> ShippedFile:
    return ShippedFile(role, relative, hashlib.sha256(data).hexdigest(), len(data), data)


def test_a_worker_writes_what_it_lacks_and_keeps_what_it_has(tmp_path):
    services = worker_services(tmp_path)
    files = [shipped("lora", "styles/inky.safetensors", b"lora bytes"), shipped("hypernetwork", "sketch.pt", b"hn")]
    fetched = []

    def fetch(ref):
        fetched.append(ref)
        return ref

    written = ensure_files(services, files, fetch, "worker-1")
    assert written == [str(tmp_path / "Lora" / "styles" / "inky.safetensors"),
                       str(tmp_path / "hypernetworks" / "sketch.pt")]
    assert (tmp_path / "Lora" / "styles" / "inky.safetensors").read_bytes() == b"lora bytes"
    assert ensure_files(services, files, fetch, "worker-1") == [] and len(fetched) == 2  # the same content: kept
    assert not list(tmp_path.rglob("*.partial"))


def test_another_file_of_the_same_name_is_never_overwritten(tmp_path):
    services = worker_services(tmp_path)
    (tmp_path / "Lora").mkdir()
    (tmp_path / "Lora" / "inky.safetensors").write_bytes(b"the node's own file")
    with pytest.raises(NetworkFileError, match="worker-2.*is not the orchestrator's inky.safetensors"):
        ensure_files(services, [shipped("lora", "inky.safetensors", b"lora bytes")], lambda ref: ref, "worker-2")
    assert (tmp_path / "Lora" / "inky.safetensors").read_bytes() == b"the node's own file"


def test_bytes_that_do_not_match_their_hash_are_refused(tmp_path):
    item = shipped("hypernetwork", "sketch.pt", b"hn")
    with pytest.raises(NetworkFileError, match="do not have its sha256"):
        ensure_files(worker_services(tmp_path), [item], lambda ref: b"damaged", "worker-1")
    assert not (tmp_path / "hypernetworks" / "sketch.pt").exists()


@pytest.mark.parametrize("relative", ["../outside.safetensors", "/etc/passwd", "styles/../../up.pt"])
def test_a_path_leaving_the_folder_is_refused(tmp_path, relative):
    with pytest.raises(NetworkFileError, match="is not a path inside the lora folder"):
        ensure_files(worker_services(tmp_path / "node"), [shipped("lora", relative, b"x")], lambda ref: ref, "w")
    assert not list(tmp_path.rglob("*.safetensors")) and not (tmp_path / "up.pt").exists()
