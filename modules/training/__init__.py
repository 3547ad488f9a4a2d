"""Training textual-inversion embeddings and hypernetworks (A1111's Train tab, ``/sdapi/v1/train/*``).

A layer under the runtime, beside ``builtin_scripts``: it uses processing (preview images), prompting
(the embedding database), networks (hypernetworks) and models; the API and the Train tab run its two
entry points as jobs in the runtime's queue.

- :mod:`.textual_inversion` / :mod:`.hypernetwork` - ``train_embedding`` / ``train_hypernetwork``
- :mod:`.common`          - inputs, the model check, log folders, the dataset and settings file of both
- :mod:`.run`             - the loop both share: steps, accumulation, clipping, saving, previews, progress
- :mod:`.dataset`         - pictures + captions -> cached latents and prompts, batches by picture size
- :mod:`.diffusion_loss`  - the denoising loss the model is trained on (eps and v)
- :mod:`.learn_rate`      - ``0.005:100, 1e-3:1000`` schedules (learning rate, gradient clipping)
- :mod:`.templates`       - ``textual_inversion_templates/*.txt`` prompt templates
- :mod:`.previews`        - the txt2img job of a preview picture
- :mod:`.embedding_image` - an embedding written into a preview picture (text chunk and pixels)
- :mod:`.logs`            - the loss CSV and ``settings-<time>.json``
- :mod:`.validation`      - :class:`~.validation.TrainingError` and the input checks
"""
