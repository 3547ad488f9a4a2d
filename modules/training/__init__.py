"""Training textual-inversion embeddings and hypernetworks (A1111's Train tab, ``/sdapi/v1/train/*``).

A layer under the runtime, beside ``builtin_scripts``: it uses processing (preview images), prompting
(the embedding database), networks (hypernetworks) and models; the API and the Train tab run its two
entry points as jobs in the runtime's queue.

- :mod:`.learn_rate`     - ``0.005:100, 1e-3:1000`` schedules (learning rate, gradient clipping)
- :mod:`.templates`      - ``textual_inversion_templates/*.txt`` prompt templates
- :mod:`.dataset`        - images + captions -> cached latents and prompts, batches by picture size
- :mod:`.diffusion_loss` - the denoising loss the model is trained on
- :mod:`.run`            - the loop both trainings share: steps, accumulation, saving, previews, logs
- :mod:`.textual_inversion` / :mod:`.hypernetwork` - ``train_embedding`` / ``train_hypernetwork``
"""
