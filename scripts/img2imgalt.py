"""The "img2img alternative test" script: instead of random noise, img2img starts from the noise that Euler, run
backwards with the original prompt, finds for the init image (:mod:`modules.builtin_scripts.find_noise`), so a
changed prompt edits the picture while keeping its composition."""
from __future__ import annotations

from typing import Any

from modules import scripts


class Script(scripts.Script):
    """img2img alternative test."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = None
        """:class:`modules.builtin_scripts.find_noise.CachedNoise` of the last search: the same picture with the
        same settings reuses its noise."""

    def title(self) -> str:
        return "img2img alternative test"

    def show(self, is_img2img: bool) -> bool:
        return is_img2img

    def ui(self, is_img2img: bool) -> list:
        import gradio as gr

        info = gr.Markdown("""
        * `CFG Scale` should be 2 or lower.
        """)
        override_sampler = gr.Checkbox(label="Override `Sampling method` to Euler?(this method is built for it)",
                                       value=True, elem_id=self.elem_id("override_sampler"))
        override_prompt = gr.Checkbox(label="Override `prompt` to the same value as `original prompt`?"
                                            "(and `negative prompt`)",
                                      value=True, elem_id=self.elem_id("override_prompt"))
        # value "" as gradio 3 had it by default (the API's script-info shows it)
        original_prompt = gr.Textbox(label="Original prompt", value="", lines=1,
                                     elem_id=self.elem_id("original_prompt"))
        original_negative_prompt = gr.Textbox(label="Original negative prompt", value="", lines=1,
                                              elem_id=self.elem_id("original_negative_prompt"))
        override_steps = gr.Checkbox(label="Override `Sampling Steps` to the same value as `Decode steps`?",
                                     value=True, elem_id=self.elem_id("override_steps"))
        st = gr.Slider(label="Decode steps", minimum=1, maximum=150, step=1, value=50, elem_id=self.elem_id("st"))
        override_strength = gr.Checkbox(label="Override `Denoising strength` to 1?", value=True,
                                        elem_id=self.elem_id("override_strength"))
        cfg = gr.Slider(label="Decode CFG scale", minimum=0.0, maximum=15.0, step=0.1, value=1.0,
                        elem_id=self.elem_id("cfg"))
        randomness = gr.Slider(label="Randomness", minimum=0.0, maximum=1.0, step=0.01, value=0.0,
                               elem_id=self.elem_id("randomness"))
        sigma_adjustment = gr.Checkbox(label="Sigma adjustment for finding noise for image", value=False,
                                       elem_id=self.elem_id("sigma_adjustment"))
        return [info, override_sampler, override_prompt, original_prompt, original_negative_prompt, override_steps,
                st, override_strength, cfg, randomness, sigma_adjustment]

    def run(self, p: Any, _: Any = None, override_sampler: bool = True, override_prompt: bool = True,
            original_prompt: str = "", original_negative_prompt: str = "", override_steps: bool = True,
            st: Any = 50, override_strength: bool = True, cfg: Any = 1.0, randomness: Any = 0.0,
            sigma_adjustment: bool = False) -> Any:
        from modules import processing
        from modules.processing.pipeline import MAX_STEPS
        from modules.processing.processing_base import GenerationError

        title = self.title()
        try:
            st, cfg, randomness = int(st), float(cfg), float(randomness)
        except (TypeError, ValueError):
            raise GenerationError(f"{title}: decode steps, decode CFG scale and randomness must be numbers") from None
        if not 1 <= st <= MAX_STEPS:
            raise GenerationError(f"{title}: decode steps must be between 1 and {MAX_STEPS}, got {st}")
        if not 0.0 <= randomness <= 1.0:
            raise GenerationError(f"{title}: randomness must be between 0 and 1, got {randomness}")
        original_prompt = original_prompt or ""
        original_negative_prompt = original_negative_prompt or ""

        if override_sampler:
            p.sampler_name = "Euler"
        if override_prompt:
            p.prompt = original_prompt
            p.negative_prompt = original_negative_prompt
        if override_steps:
            p.steps = st
        if override_strength:
            p.denoising_strength = 1.0

        def sample_extra(conditioning: Any, unconditional_conditioning: Any, seeds: list, subseeds: list,
                         subseed_strength: float, prompts: list | None = None) -> Any:
            return self._sample(p, conditioning, unconditional_conditioning, seeds, subseeds, original_prompt,
                                original_negative_prompt, cfg, st, randomness, bool(sigma_adjustment))

        p.sample = sample_extra
        p.extra_generation_params["Decode prompt"] = original_prompt
        p.extra_generation_params["Decode negative prompt"] = original_negative_prompt
        p.extra_generation_params["Decode CFG scale"] = cfg
        p.extra_generation_params["Decode steps"] = st
        p.extra_generation_params["Randomness"] = randomness
        p.extra_generation_params["Sigma Adjustment"] = sigma_adjustment
        return processing.process_images(p)

    def _sample(self, p: Any, conditioning: Any, unconditional_conditioning: Any, seeds: list, subseeds: list,
                original_prompt: str, original_negative_prompt: str, cfg: float, st: int, randomness: float,
                sigma_adjustment: bool) -> Any:
        """``p.sample`` for the job: the found (or cached) noise, mixed with random noise by ``randomness``."""
        from modules import shared
        from modules.builtin_scripts.find_noise import CachedNoise, find_noise_for_image, latent_fingerprint
        from modules.processing.processing_base import GenerationError
        from modules.processing.rng import create_random_tensors

        sampler = p.sampler
        model_wrap = getattr(sampler, "model_wrap", None)
        if not hasattr(model_wrap, "get_sigmas"):
            raise GenerationError(f"img2img alternative test needs a sigma-based sampler such as Euler, "
                                  f"not {p.sampler_name}")
        lat = latent_fingerprint(p.init_latent)
        cache = self.cache
        if cache is not None and cache.matches(cfg, st, lat, original_prompt, original_negative_prompt,
                                               sigma_adjustment):
            rec_noise = cache.noise
        else:
            state = shared.state
            if state is not None:
                state.job_count += 1
            cond = p.sd_model.get_learned_conditioning(p.batch_size * [original_prompt])
            uncond = p.sd_model.get_learned_conditioning(p.batch_size * [original_negative_prompt])
            rec_noise = find_noise_for_image(p.sd_model, p.init_latent, cond, uncond, cfg, st,
                                             image_conditioning=p.image_conditioning,
                                             sigma_adjustment=sigma_adjustment)
            if state is not None:
                state.nextjob()
            self.cache = CachedNoise(rec_noise, cfg, st, lat, original_prompt, original_negative_prompt,
                                     sigma_adjustment)

        rand_noise = create_random_tensors(p.init_latent.shape[1:], seeds=seeds, subseeds=subseeds,
                                           subseed_strength=p.subseed_strength,
                                           seed_resize_from_h=p.seed_resize_from_h,
                                           seed_resize_from_w=p.seed_resize_from_w, settings=shared.opts,
                                           device=p.init_latent.device)
        combined_noise = ((1 - randomness) * rec_noise + randomness * rand_noise.to(rec_noise)) \
            / ((randomness ** 2 + (1 - randomness) ** 2) ** 0.5)
        sigmas = model_wrap.get_sigmas(p.steps)
        # the sampler adds noise * its first sigma to the latent; this makes the start exactly the found noise
        noise_dt = combined_noise - (p.init_latent / sigmas[0])
        p.seed = p.seed + 1
        return sampler.sample_img2img(p, p.init_latent, noise_dt, conditioning, unconditional_conditioning,
                                      image_conditioning=p.image_conditioning)
