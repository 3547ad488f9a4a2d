"""The labels of the infotext (the ``parameters`` text of every picture).

Labels are a contract: users' files, the PNG Info tab, paste buttons, API
clients and extensions all read them.  Change none.
"""
from __future__ import annotations

PROMPT = "Prompt"
NEGATIVE_PROMPT = "Negative prompt"
STYLES_ARRAY = "Styles array"
"""Parse-only: the styles found in a pasted prompt (setting ``infotext_styles``)."""

STEPS = "Steps"
SAMPLER = "Sampler"
SCHEDULE_TYPE = "Schedule type"
CFG_SCALE = "CFG scale"
IMAGE_CFG_SCALE = "Image CFG scale"
SEED = "Seed"
FACE_RESTORATION = "Face restoration"
SIZE = "Size"
MODEL_HASH = "Model hash"
MODEL = "Model"
FP8_WEIGHT = "FP8 weight"
CACHE_FP16_WEIGHT = "Cache FP16 weight for LoRA"
VAE_HASH = "VAE hash"
VAE = "VAE"
VARIATION_SEED = "Variation seed"
VARIATION_SEED_STRENGTH = "Variation seed strength"
SEED_RESIZE_FROM = "Seed resize from"
DENOISING_STRENGTH = "Denoising strength"
CONDITIONAL_MASK_WEIGHT = "Conditional mask weight"
CLIP_SKIP = "Clip skip"
ENSD = "ENSD"
TOKEN_MERGING_RATIO = "Token merging ratio"
TOKEN_MERGING_RATIO_HR = "Token merging ratio hr"
INIT_IMAGE_HASH = "Init image hash"
RNG = "RNG"
TILING = "Tiling"
VERSION = "Version"
USER = "User"

HIRES_UPSCALE = "Hires upscale"
HIRES_RESIZE = "Hires resize"
HIRES_STEPS = "Hires steps"
HIRES_UPSCALER = "Hires upscaler"
HIRES_CHECKPOINT = "Hires checkpoint"
HIRES_SAMPLER = "Hires sampler"
HIRES_SCHEDULE_TYPE = "Hires schedule type"
HIRES_PROMPT = "Hires prompt"
HIRES_NEGATIVE_PROMPT = "Hires negative prompt"
HIRES_REFINER = "Hires refiner"
FIRST_PASS_SIZE = "First pass size"
"""Written by A1111 before 1.0's hires rework; converted on paste."""

REFINER = "Refiner"
REFINER_SWITCH_AT = "Refiner switch at"
REFINER_SWITCH_BY_SAMPLING_STEPS = "Refiner switch by sampling steps"

LORA_HASHES = "Lora hashes"
TI_HASHES = "TI hashes"
HYPERNET = "Hypernet"
HYPERNET_STRENGTH = "Hypernet strength"
EMPHASIS = "Emphasis"

MASK_BLUR = "Mask blur"
MASK_MODE = "Mask mode"
MASKED_CONTENT = "Masked content"
INPAINT_AREA = "Inpaint area"
MASKED_AREA_PADDING = "Masked area padding"
NOISE_MULTIPLIER = "Noise multiplier"
EXTRA_NOISE = "Extra noise"

SCHEDULE_MAX_SIGMA = "Schedule max sigma"
SCHEDULE_MIN_SIGMA = "Schedule min sigma"
SCHEDULE_RHO = "Schedule rho"
ETA = "Eta"
ETA_DDIM = "Eta DDIM"
NGMS = "NGMS"
SIGMA_CHURN = "Sigma churn"
SIGMA_TMIN = "Sigma tmin"
SIGMA_TMAX = "Sigma tmax"
SIGMA_NOISE = "Sigma noise"
PAD_CONDS = "Pad conds"
PAD_CONDS_V0 = "Pad conds v0"
OLD_PROMPT_EDITING_TIMELINES = "Old prompt editing timelines"
DOWNCAST_ALPHAS_CUMPROD = "Downcast alphas_cumprod"
VAE_ENCODER = "VAE Encoder"
VAE_DECODER = "VAE Decoder"

CORE_ORDER = (
    STEPS, SAMPLER, SCHEDULE_TYPE, CFG_SCALE, IMAGE_CFG_SCALE, SEED, FACE_RESTORATION, SIZE, MODEL_HASH, MODEL,
    FP8_WEIGHT, CACHE_FP16_WEIGHT, VAE_HASH, VAE, VARIATION_SEED, VARIATION_SEED_STRENGTH, SEED_RESIZE_FROM,
    DENOISING_STRENGTH, CONDITIONAL_MASK_WEIGHT, CLIP_SKIP, ENSD, TOKEN_MERGING_RATIO, TOKEN_MERGING_RATIO_HR,
    INIT_IMAGE_HASH, RNG, TILING,
)
"""The labels A1111 writes before the extra parameters, in its order; ``Version`` and ``User`` come last."""
