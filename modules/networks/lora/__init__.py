"""LoRA and the LyCORIS family: file listing, key names, module types and merging through the patcher.

The built-in extension ``extensions-builtin/Lora`` is the thin A1111 surface
(``networks``, ``network``, the ``lora`` extra network, its API routes); the
work happens here:

- :mod:`.network_files`  - the files on disk: names, aliases, metadata, hashes
- :mod:`.key_names`      - a file's keys split into layer name and part
- :mod:`.layer_index`    - every layer of a model under the names LoRA files use
- :mod:`.module_types`   - the per-layer math (LoRA, LoHa, LoKr, IA3, full, norm, GLoRA, OFT)
- :mod:`.loading`        - a file turned into a :class:`~.loading.Network`
- :mod:`.applying`       - networks and multipliers turned into a patch set
- :mod:`.lora_networks`  - the live state: what is available, loaded and applied
- :mod:`.extra_network`  - the ``<lora:...>`` extra network
- :mod:`.infotext`       - ``Lora hashes`` when pasting infotext
"""
