"""The settings of section "Sampler parameters" (id ``sampler-params``, category ``sd``)."""
from __future__ import annotations

from modules.core.options import live_choices
from modules.core.options.option_info import OptionInfo, options_section
from modules.core.options.sections.builders import choices, integer, number, radio, slider


def options() -> dict[str, OptionInfo]:
    euler_heun_dpm2 = "only applies to Euler, Heun, and DPM2"
    return options_section(("sampler-params", "Sampler parameters", "sd"), {
        "hide_samplers": OptionInfo([], "Hide samplers in user interface", "CheckboxGroup", choices(live_choices.sampler_names)).needs_reload_ui(),
        "eta_ddim": slider(0.0, "Eta for DDIM", 0.0, 1.0, 0.01, infotext="Eta DDIM").info("noise multiplier; higher = more unpredictable results"),
        "eta_ancestral": slider(1.0, "Eta for k-diffusion samplers", 0.0, 1.0, 0.01, infotext="Eta")
            .info("noise multiplier; currently only applies to ancestral samplers (i.e. Euler a) and SDE samplers"),
        "ddim_discretize": radio("uniform", "img2img DDIM discretize", ["uniform", "quad"]),
        "s_churn": slider(0.0, "sigma churn", 0.0, 100.0, 0.01, infotext="Sigma churn").info(f"amount of stochasticity; {euler_heun_dpm2}"),
        "s_tmin": slider(0.0, "sigma tmin", 0.0, 10.0, 0.01, infotext="Sigma tmin")
            .info(f"enable stochasticity; start value of the sigma range; {euler_heun_dpm2}"),
        "s_tmax": slider(0.0, "sigma tmax", 0.0, 999.0, 0.01, infotext="Sigma tmax").info(f"0 = inf; end value of the sigma range; {euler_heun_dpm2}"),
        "s_noise": slider(1.0, "sigma noise", 0.0, 1.1, 0.001, infotext="Sigma noise")
            .info("amount of additional noise to counteract loss of detail during sampling"),
        "sigma_min": number(0.0, "sigma min", infotext="Schedule min sigma")
            .info("0 = default (~0.03); minimum noise strength for k-diffusion noise scheduler"),
        "sigma_max": number(0.0, "sigma max", infotext="Schedule max sigma")
            .info("0 = default (~14.6); maximum noise strength for k-diffusion noise scheduler"),
        "rho": number(0.0, "rho", infotext="Schedule rho")
            .info("0 = default (7 for karras, 1 for polyexponential); higher values result in a steeper noise schedule (decreases faster)"),
        "eta_noise_seed_delta": integer(0, "Eta noise seed delta", infotext="ENSD")
            .info("ENSD; does not improve anything, just produces different results for ancestral samplers - only useful for reproducing images"),
        "always_discard_next_to_last_sigma": OptionInfo(False, "Always discard next-to-last sigma", infotext="Discard penultimate sigma")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/6044"),
        "sgm_noise_multiplier": OptionInfo(False, "SGM noise multiplier", infotext="SGM noise multiplier")
            .link("PR", "https://github.com/AUTOMATIC1111/stable-diffusion-webui/pull/12818")
            .info("Match initial noise to official SDXL implementation - only useful for reproducing images"),
        "uni_pc_variant": radio("bh1", "UniPC variant", ["bh1", "bh2", "vary_coeff"], infotext="UniPC variant"),
        "uni_pc_skip_type": radio("time_uniform", "UniPC skip type", ["time_uniform", "time_quadratic", "logSNR"], infotext="UniPC skip type"),
        "uni_pc_order": slider(3, "UniPC order", 1, 50, 1, infotext="UniPC order").info("must be < sampling steps"),
        "uni_pc_lower_order_final": OptionInfo(True, "UniPC lower order final", infotext="UniPC lower order final"),
        "sd_noise_schedule": radio("Default", "Noise schedule for sampling", ["Default", "Zero Terminal SNR"], infotext="Noise Schedule")
            .info("for use with zero terminal SNR trained models"),
        "skip_early_cond": slider(0.0, "Ignore negative prompt during early sampling", 0.0, 1.0, 0.01, infotext="Skip Early CFG")
            .info("disables CFG on a proportion of steps at the beginning of generation; 0=skip none; 1=skip all; can both improve sample diversity/quality and speed up sampling"),
        "beta_dist_alpha": slider(0.6, "Beta scheduler - alpha", 0.01, 1.0, 0.01, infotext="Beta scheduler alpha")
            .info("Default = 0.6; the alpha parameter of the beta distribution used in Beta sampling"),
        "beta_dist_beta": slider(0.6, "Beta scheduler - beta", 0.01, 1.0, 0.01, infotext="Beta scheduler beta")
            .info("Default = 0.6; the beta parameter of the beta distribution used in Beta sampling"),
    })
