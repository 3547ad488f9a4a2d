"""The interrogators as services: "Interrogate CLIP" (BLIP caption + CLIP ranking) and "Interrogate DeepBooru".

:class:`ClipInterrogator` is A1111's ``shared.interrogator`` (``InterrogateModels``: ``interrogate``,
``generate_caption``, ``rank``, ``categories``, ``load``, ``unload``); :class:`DeepBooruTagger` is A1111's
``modules.deepbooru.model`` (``tag``, ``tag_multi``, ``start``, ``stop``).  Both read the installed
settings when they run and load their networks on first use from the folders A1111 uses; nothing is
downloaded: a missing file is a :class:`~modules.models.model_files.ModelFileMissingError` naming the file
and where to put it (the API answers 404 with it).  :func:`clip_interrogator` and :func:`deepbooru_tagger`
give the services' instances, building them on first use.

Files:

- BLIP: ``models/BLIP/model_base_caption_capfilt_large.pth`` (another ``.pth``/``.safetensors`` there is
  taken when that one is absent, as A1111's loader does) and BERT's ``vocab.txt`` (``bert-base-uncased``),
  which A1111 fetched from the Hugging Face hub: ``models/BLIP/vocab.txt``, ``models/BLIP/bert-base-uncased/``
  or the hub cache;
- CLIP: ``ViT-L-14.pt`` (OpenAI's release) or ``ViT-L-14.safetensors`` in ``--clip-models-path``, by default
  ``~/.cache/clip`` (where A1111's ``clip.load`` keeps it);
- categories: ``interrogate/*.txt`` in the install folder;
- DeepBooru: ``models/torch_deepdanbooru/model-resnet_custom_v3.pt``.
"""
from __future__ import annotations

import glob
import os
from typing import Any

from modules.core import errors
from modules.core.install_dir import INSTALL_DIR
from modules.core.services import Services
from modules.models.model_files import ModelFileMissingError

BLIP_FILE = "model_base_caption_capfilt_large.pth"
BLIP_URL = f"https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/{BLIP_FILE}"
BERT_VOCAB_URL = "https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt"
CLIP_FILE = "ViT-L-14.pt"
CLIP_URL = ("https://openaipublic.azureedge.net/clip/models/"
            f"b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/{CLIP_FILE}")
DEEPBOORU_FILE = "model-resnet_custom_v3.pt"
DEEPBOORU_URL = f"https://github.com/AUTOMATIC1111/TorchDeepDanbooru/releases/download/v1/{DEEPBOORU_FILE}"
CONTENT_DIR = "interrogate"
"""The category files' folder, relative to the install folder (A1111's ``InterrogateModels("interrogate")``)."""


def _opt(services: Services, name: str, default: Any) -> Any:
    opts = services.opts
    return getattr(opts, name, default) if opts is not None else default


def _first_file(folder: str, preferred: str, extensions: tuple[str, ...]) -> str | None:
    path = os.path.join(folder, preferred)
    if os.path.isfile(path):
        return path
    found = sorted(p for ext in extensions for p in glob.glob(os.path.join(folder, f"*{ext}")))
    return found[0] if found else None


def _models_dir(services: Services, name: str) -> str:
    paths = services.paths
    return paths.model_dir(name) if paths is not None else os.path.join(INSTALL_DIR, "models", name)


def blip_file(services: Services) -> str:
    """The BLIP caption weights, or a missing-file error naming ``models/BLIP/model_base_caption_capfilt_large.pth``."""
    folder = _models_dir(services, "BLIP")
    found = _first_file(folder, BLIP_FILE, (".pth", ".safetensors"))
    if found is None:
        raise ModelFileMissingError(BLIP_URL, os.path.join(folder, BLIP_FILE))
    return found


def bert_vocab_file(services: Services) -> str:
    """BERT's ``vocab.txt`` (BLIP's tokenizer) from ``models/BLIP`` or the Hugging Face hub cache."""
    folder = _models_dir(services, "BLIP")
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub")
    candidates = [os.path.join(folder, "vocab.txt"), os.path.join(folder, "bert-base-uncased", "vocab.txt"),
                  *sorted(glob.glob(os.path.join(hub, "models--bert-base-uncased", "snapshots", "*", "vocab.txt")))]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise ModelFileMissingError(BERT_VOCAB_URL, candidates[0])


def clip_file(services: Services) -> str:
    """``ViT-L-14.pt`` (or ``.safetensors``) in ``--clip-models-path`` or ``~/.cache/clip``."""
    folder = getattr(services.cmd_opts, "clip_models_path", None) or os.path.expanduser("~/.cache/clip")
    for name in (CLIP_FILE, "ViT-L-14.safetensors"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise ModelFileMissingError(CLIP_URL, os.path.join(folder, CLIP_FILE))


def deepbooru_file(services: Services) -> str:
    """``models/torch_deepdanbooru/model-resnet_custom_v3.pt`` (another ``.pt`` there when that one is absent)."""
    folder = _models_dir(services, "torch_deepdanbooru")
    found = _first_file(folder, DEEPBOORU_FILE, (".pt", ".safetensors"))
    if found is None:
        raise ModelFileMissingError(DEEPBOORU_URL, os.path.join(folder, DEEPBOORU_FILE))
    return found


def _allow_unsafe(services: Services) -> bool:
    return bool(getattr(services.cmd_opts, "disable_safe_unpickle", False))


def _memory_guard(services: Services) -> Any:
    """The model manager's guard: the generation model's swapped parts leave the device first (A1111 sends
    everything to the CPU with --lowvram/--medvram) and an out-of-memory error names the setting to change."""
    from modules.models.memory.placement import job_guard  # why: torch on first use

    return job_guard(services)


def _device_and_dtype(services: Services) -> tuple[Any, Any]:
    # torch on first use: building the services stays light
    import torch

    from modules.models.devices import device_for_task  # why: torch on first use

    device = device_for_task("interrogate", services.cmd_opts)
    half = device.type != "cpu" and not getattr(services.cmd_opts, "no_half", False)
    return device, torch.float16 if half else torch.float32


class ClipInterrogator:
    """A1111's ``InterrogateModels``: a BLIP caption followed by the best CLIP matches of each category."""

    def __init__(self, services: Services, content_dir: str | None = None) -> None:
        self.services = services
        self.content_dir = content_dir or os.path.join(INSTALL_DIR, CONTENT_DIR)
        self.blip_model: Any = None
        self.blip_tokenizer: Any = None
        self.clip_model: Any = None
        self.clip_tokenizer: Any = None
        self.dtype: Any = None
        self.loaded_categories: list | None = None
        self.skip_categories: list[str] = []
        self._partial = ""  # the answer so far, kept when a later step fails (A1111's "caption<error>")

    # --- categories ---------------------------------------------------------------------------------------------

    def category_types(self) -> list[str]:
        """The category names of :attr:`content_dir` (``interrogate_clip_skip_categories``'s choices)."""
        from modules.models.interrogation.ranking import category_names  # why: torch on first use

        return category_names(self.content_dir) if os.path.isdir(self.content_dir) else []

    def categories(self) -> list:
        """The category files not skipped by ``interrogate_clip_skip_categories`` (read again when it changes)."""
        from modules.models.interrogation.ranking import read_categories  # why: torch on first use

        skip = list(_opt(self.services, "interrogate_clip_skip_categories", []) or [])
        if self.loaded_categories is not None and self.skip_categories == skip:
            return self.loaded_categories
        self.skip_categories = skip
        self.loaded_categories = read_categories(self.content_dir, skip) if os.path.isdir(self.content_dir) else []
        return self.loaded_categories

    # --- models -------------------------------------------------------------------------------------------------

    def load_blip_model(self) -> Any:
        """BLIP from ``models/BLIP`` (with its tokenizer), on the CPU."""
        from modules.models.interrogation import blip  # why: torch on first use
        from modules.models.interrogation.bert_tokenizer import BertTokenizer  # why: torch on first use
        from modules.models.interrogation.weights import read_blip_weights  # why: torch on first use

        path, vocab = blip_file(self.services), bert_vocab_file(self.services)
        self.blip_tokenizer = BertTokenizer.from_file(vocab)
        model = load_blip(read_blip_weights(path, _allow_unsafe(self.services)), path)
        model.eval()
        return model

    def load_clip_model(self) -> Any:
        """OpenAI CLIP ViT-L/14 from ``--clip-models-path``, on the CPU."""
        from modules.models.interrogation.weights import read_clip_weights  # why: torch on first use
        from modules.models.tokenizer import ClipTokenizer  # why: torch on first use

        path = clip_file(self.services)
        self.clip_tokenizer = ClipTokenizer(unescape_html=True)
        model = load_clip(read_clip_weights(path, _allow_unsafe(self.services)), path)
        model.eval()
        return model

    def load(self) -> None:
        """Both networks on the interrogation device (``--use-cpu interrogate``), half precision off the CPU
        unless ``--no-half``."""
        device, dtype = _device_and_dtype(self.services)
        if self.blip_model is None:
            self.blip_model = self.load_blip_model().to(dtype)
        self.blip_model = self.blip_model.to(device)
        if self.clip_model is None:
            self.clip_model = self.load_clip_model().to(dtype)
        self.clip_model = self.clip_model.to(device)
        self.dtype = dtype

    def _keep(self) -> bool:
        return bool(_opt(self.services, "interrogate_keep_models_in_memory", False))

    def send_clip_to_ram(self) -> None:
        if not self._keep() and self.clip_model is not None:
            self.clip_model = self.clip_model.to("cpu")

    def send_blip_to_ram(self) -> None:
        if not self._keep() and self.blip_model is not None:
            self.blip_model = self.blip_model.to("cpu")

    def unload(self) -> None:
        """Models back to RAM unless ``interrogate_keep_models_in_memory``."""
        from modules.models.devices import torch_gc  # why: torch on first use

        self.send_clip_to_ram()
        self.send_blip_to_ram()
        torch_gc()

    # --- the work -----------------------------------------------------------------------------------------------

    def generate_caption(self, pil_image: Any) -> str:
        """BLIP's caption with the ``interrogate_clip_num_beams`` / ``_min_length`` / ``_max_length`` settings."""
        import torch

        from modules.models.interrogation.image_inputs import blip_pixels  # why: torch on first use

        if self.blip_model is None:
            device, dtype = _device_and_dtype(self.services)
            self.blip_model = self.load_blip_model().to(device, dtype)
        param = next(self.blip_model.parameters())
        pixels = blip_pixels(pil_image, self.blip_model.config.image_size).to(param.device, param.dtype)
        with torch.no_grad():
            return caption_image(self.blip_model, self.blip_tokenizer, pixels,
                                 num_beams=int(_opt(self.services, "interrogate_clip_num_beams", 1)),
                                 min_length=int(_opt(self.services, "interrogate_clip_min_length", 24)),
                                 max_length=int(_opt(self.services, "interrogate_clip_max_length", 48)))

    def rank(self, image_features: Any, text_array: list[str], top_count: int = 1) -> list[tuple[str, float]]:
        """The best ``top_count`` of ``text_array`` (its first ``interrogate_clip_dict_limit`` lines) for the picture."""
        import torch

        from modules.models.interrogation import ranking  # why: torch on first use

        limit = int(_opt(self.services, "interrogate_clip_dict_limit", 1500))
        if limit != 0:
            text_array = text_array[:limit]
        if not text_array:
            return []
        tokens = ranking.tokenize(self.clip_tokenizer.encode, list(text_array), self.clip_tokenizer.bos_id,
                                  self.clip_tokenizer.eos_id).to(image_features.device)
        with torch.no_grad():
            text_features = self.clip_model.encode_text(tokens).to(self.dtype)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        return ranking.rank(image_features, text_features, list(text_array), top_count)

    def interrogate(self, pil_image: Any) -> str:
        """``caption, match, match...`` for the picture; ``(match:score)`` with ``interrogate_return_ranks``.

        A missing or unreadable model file is raised (the caller says which file); any other failure is
        reported and the answer ends with ``<error>``, as in A1111.
        """
        from modules.models.checkpoint_io import CheckpointError  # why: torch on first use

        res = ""
        state = self.services.state
        if state is not None:
            state.begin(job="interrogate")
        try:
            with _memory_guard(self.services):
                res = self._interrogate(pil_image)
        except (ModelFileMissingError, CheckpointError):
            raise
        except Exception:  # noqa: BLE001 - A1111 answers with what it has and "<error>"
            errors.report("Error interrogating", exc_info=True)
            res = self._partial + "<error>"
        finally:
            self.unload()
            if state is not None:
                state.end()
        return res

    def _interrogate(self, pil_image: Any) -> str:
        import torch

        from modules.models.interrogation.image_inputs import clip_pixels  # why: torch on first use
        from modules.models.interrogation.ranking import format_matches  # why: torch on first use

        self._partial = ""
        self.load()
        self._partial = caption = self.generate_caption(pil_image)
        self.send_blip_to_ram()
        device = next(self.clip_model.parameters()).device
        pixels = clip_pixels(pil_image, self.clip_model.config.image_resolution).to(device, self.dtype)
        with torch.no_grad():
            image_features = self.clip_model.encode_image(pixels).to(self.dtype)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        matches = []
        for category in self.categories():
            matches += self.rank(image_features, category.items, top_count=category.topn)
        return format_matches(caption, matches, bool(_opt(self.services, "interrogate_return_ranks", False)))


class DeepBooruTagger:
    """A1111's ``modules.deepbooru.model``: the DeepDanbooru tags of a picture."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.model: Any = None

    def load(self) -> None:
        """The network from ``models/torch_deepdanbooru``, on the CPU."""
        if self.model is not None:
            return
        from modules.models.interrogation.deepdanbooru import DeepDanbooruModel  # why: torch on first use
        from modules.models.interrogation.weights import read_deepdanbooru_weights  # why: torch on first use

        path = deepbooru_file(self.services)
        self.model = load_deepdanbooru(read_deepdanbooru_weights(path, _allow_unsafe(self.services)), path,
                                       DeepDanbooruModel)
        self.model.eval()

    def start(self) -> None:
        self.load()
        device, dtype = _device_and_dtype(self.services)
        self.model.to(device, dtype)

    def stop(self) -> None:
        if not _opt(self.services, "interrogate_keep_models_in_memory", False):
            from modules.models.devices import torch_gc  # why: torch on first use

            self.model.to("cpu")
            torch_gc()

    def tag(self, pil_image: Any) -> str:
        """The tags of ``pil_image`` as the settings format them."""
        with _memory_guard(self.services):
            self.start()
            try:
                return self.tag_multi(pil_image)
            finally:
                self.stop()

    def tag_multi(self, pil_image: Any, force_disable_ranks: bool = False) -> str:
        """:meth:`tag` with the model already started (batch captioning); ``force_disable_ranks`` drops scores."""
        import numpy as np
        import torch

        from modules.models.interrogation.tags import TagFormat, format_tags  # why: torch on first use
        from modules.processing.image_resize import resize_image  # why: torch on first use

        picture = resize_image(2, pil_image.convert("RGB"), 512, 512)
        array = np.expand_dims(np.array(picture, dtype=np.float32), 0) / 255
        param = next(self.model.parameters())
        with torch.no_grad():
            probabilities = self.model(torch.from_numpy(array).to(param.device, param.dtype))[0].float().cpu()
        fmt = TagFormat(
            threshold=float(_opt(self.services, "interrogate_deepbooru_score_threshold", 0.5)),
            sort_alpha=bool(_opt(self.services, "deepbooru_sort_alpha", True)),
            use_spaces=bool(_opt(self.services, "deepbooru_use_spaces", True)),
            escape=bool(_opt(self.services, "deepbooru_escape", True)),
            filter_tags=str(_opt(self.services, "deepbooru_filter_tags", "") or ""),
            include_ranks=bool(_opt(self.services, "interrogate_return_ranks", False)) and not force_disable_ranks)
        return format_tags(self.model.tags, probabilities.tolist(), fmt)


# --- loading ----------------------------------------------------------------------------------------------------

def load_blip(sd: dict, path: str) -> Any:
    """A :class:`~modules.models.interrogation.blip.BlipCaptionModel` with ``sd``; missing weights name the file."""
    from modules.models.checkpoint_io import CheckpointError  # why: torch on first use
    from modules.models.interrogation.blip import BLIP_BASE, BlipCaptionModel  # why: torch on first use

    model = BlipCaptionModel(blip_config_for(sd) if "visual_encoder.pos_embed" in sd else BLIP_BASE)
    # the file also holds BLIP's training-only parts (momentum encoders, position ids): ignored, as BLIP does
    missing = [k for k in model.state_dict() if k not in sd]
    if missing:
        raise CheckpointError(f"{path}: not a BLIP caption model (missing {', '.join(missing[:3])}...)")
    model.load_state_dict({k: sd[k] for k in model.state_dict()})
    return model


def blip_config_for(sd: dict) -> Any:
    """The sizes of the BLIP model in ``sd`` (the released one, or a smaller test model)."""
    from modules.models.interrogation.blip import BlipConfig  # why: torch on first use

    width = sd["visual_encoder.pos_embed"].shape[-1]
    patch = sd["visual_encoder.patch_embed.proj.weight"].shape[-1]
    grid = round((sd["visual_encoder.pos_embed"].shape[1] - 1) ** 0.5)
    text_width = sd["text_decoder.bert.embeddings.word_embeddings.weight"].shape[1]
    return BlipConfig(
        image_size=grid * patch, patch_size=patch, vision_width=width,
        vision_layers=len({k.split(".")[2] for k in sd if k.startswith("visual_encoder.blocks.")}),
        vision_heads=max(1, width // 64),
        vocab_size=sd["text_decoder.bert.embeddings.word_embeddings.weight"].shape[0], text_width=text_width,
        text_layers=len({k.split(".")[4] for k in sd if k.startswith("text_decoder.bert.encoder.layer.")}),
        text_heads=max(1, text_width // 64),
        intermediate_size=sd["text_decoder.bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_positions=sd["text_decoder.bert.embeddings.position_embeddings.weight"].shape[0])


def load_clip(sd: dict, path: str) -> Any:
    """A :class:`~modules.models.interrogation.clip_model.ClipModel` with ``sd`` (OpenAI's keys)."""
    from modules.models.checkpoint_io import CheckpointError  # why: torch on first use
    from modules.models.interrogation.clip_model import ClipModel, config_from_state_dict  # why: torch on first use

    try:
        model = ClipModel(config_from_state_dict(sd))
    except KeyError as e:
        raise CheckpointError(f"{path}: not an OpenAI CLIP model (no {e})") from e
    missing = [k for k in model.state_dict() if k not in sd]
    if missing:
        raise CheckpointError(f"{path}: not an OpenAI CLIP model (missing {', '.join(missing[:3])}...)")
    model.load_state_dict({k: sd[k] for k in model.state_dict()})
    return model


def load_deepdanbooru(sd: dict, path: str, model_class: Any) -> Any:
    """The DeepDanbooru network with ``sd`` at the width and tag count its shapes give."""
    from modules.models.checkpoint_io import CheckpointError  # why: torch on first use

    if "n_Conv_0.weight" not in sd or "n_Conv_178.weight" not in sd:
        raise CheckpointError(f"{path}: not a DeepDanbooru model (no n_Conv_0 / n_Conv_178 weights)")
    divisor = max(1, 64 // sd["n_Conv_0.weight"].shape[0])
    model = model_class(tag_count=sd["n_Conv_178.weight"].shape[0], width_divisor=divisor)
    try:
        model.load_state_dict(sd)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: not a DeepDanbooru model: {str(e).splitlines()[0]}") from e
    return model


def caption_image(model: Any, tokenizer: Any, pixels: Any, num_beams: int, min_length: int, max_length: int) -> str:
    """BLIP's ``generate(sample=False)``: the caption after "a picture of "."""
    from modules.models.interrogation import beam_search  # why: torch on first use
    from modules.models.interrogation.blip import PROMPT, reorder_caches  # why: torch on first use

    num_beams = max(1, num_beams)
    image_tokens = model.visual_encoder(pixels).repeat_interleave(num_beams, dim=0)
    caches = model.text_decoder.start_cache(image_tokens)
    prompt = tokenizer.encode(PROMPT)[:-1]
    prompt[0] = tokenizer.token_id("[DEC]")
    device = pixels.device

    def step(ids: Any) -> Any:
        return model.text_decoder.step(ids.to(device), caches)

    def reorder(order: Any) -> None:
        reorder_caches(caches, order.to(device))

    ids = beam_search.generate(step, reorder, prompt, num_beams, min_length, max_length,
                               eos_id=tokenizer.token_id("[SEP]"))
    return tokenizer.decode(ids)[len(PROMPT):]


# --- the services' instances ------------------------------------------------------------------------------------

def clip_interrogator(services: Services) -> ClipInterrogator:
    """``services.interrogator`` (A1111's ``shared.interrogator``), built on first use when the bootstrap did not."""
    if services.interrogator is None:
        services.interrogator = ClipInterrogator(services)
    return services.interrogator


def deepbooru_tagger(services: Services) -> DeepBooruTagger:
    """The services' DeepBooru tagger (A1111's ``modules.deepbooru.model``), built on first use."""
    tagger = getattr(services, "deepbooru", None)
    if tagger is None:
        tagger = DeepBooruTagger(services)
        setattr(services, "deepbooru", tagger)
    return tagger


INTERROGATION_MODELS = ("clip", "deepdanbooru")
"""The ``model`` names of ``/sdapi/v1/interrogate``."""


class UnknownInterrogatorError(LookupError):
    """An interrogation model name other than ``clip`` / ``deepdanbooru``."""


def interrogate_with(services: Services, model: str, pil_image: Any) -> str:
    """The caption (``clip``) or tags (``deepdanbooru``) of a picture: what ``/sdapi/v1/interrogate`` answers."""
    if model == "clip":
        return clip_interrogator(services).interrogate(pil_image)
    if model == "deepdanbooru":
        return deepbooru_tagger(services).tag(pil_image)
    raise UnknownInterrogatorError(f"Model not found: {model}")
