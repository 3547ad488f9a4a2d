"""A1111 hypernetworks: ``models/hypernetworks/*.pt`` applied to the k/v context of every attention layer.

- :mod:`.hypernetwork`  - the file format and the per-width MLP pairs
- :mod:`.registry`      - the files on disk and the ones loaded for the current prompt
- :mod:`.extra_network` - the ``<hypernet:name:multiplier>`` extra network
- :mod:`.setup`         - wiring into the running app (``shared.hypernetworks`` & co)
"""
