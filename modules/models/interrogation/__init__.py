"""The networks of A1111's interrogators, keyed as their released files are.

- :mod:`.clip_model`: OpenAI CLIP (``ViT-L-14.pt``), which ranks category words against a picture;
- :mod:`.blip`: Salesforce BLIP's captioner (``model_base_caption_capfilt_large.pth``): a ViT and a
  BERT decoder with cross-attention, searched by :mod:`.beam_search`, words by :mod:`.bert_tokenizer`;
- :mod:`.deepdanbooru`: the torch DeepDanbooru tagger (``model-resnet_custom_v3.pt``);
- :mod:`.weights`: reading those files without running pickled code; :mod:`.ranking` and
  :mod:`.tags`: what the interrogators make of the networks' outputs (A1111's text formats).

The services that load them on first use, with the settings, live in :mod:`modules.runtime.interrogation`.
"""
