"""The sampling layer: noise schedules, denoiser wrappers, sampler functions, CFG and sampler objects.

Every sampler is a pure function with k-diffusion's contract
``fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **knobs)``
(timestep samplers take ``timesteps`` instead of ``sigmas``); eps/v prediction
lives in :mod:`modules.sampling.denoisers`, classifier-free guidance in
:mod:`modules.sampling.cfg_denoiser`, and the A1111-style sampler objects that
the processing layer drives in :mod:`modules.sampling.sampler_kdiffusion` and
:mod:`modules.sampling.sampler_timesteps` (their shared part and the ``p``
protocol in :mod:`modules.sampling.sampler_base`).

Importing this package does nothing; the entry points are in
:mod:`modules.sampling.factory` (``choose_sampler``: a request's sampler name and
schedule type resolved once into a ``SamplerChoice``; ``SamplerFactory.create``:
a sampler object built from it with its environment), :mod:`modules.sampling.registry`
(the sampler list, ``find_sampler_config``, ``split_sampler_and_scheduler``,
``samplers_api_list``) and :mod:`modules.sampling.schedulers` (``schedulers_api_list``);
the services a sampler uses come in a :class:`modules.sampling.environment.SamplingEnv`.
"""
