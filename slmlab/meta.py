"""A model with a config's exact shapes and no memory: transformers on PyTorch's *meta* device.

Every tensor has a shape but no storage, so even a 27B model is built in a fraction of a second without a
download. `catalog` counts parameters on it and `sizing` lists the tensors a GGUF file will hold.
"""

from __future__ import annotations

from slmlab import quiet
from slmlab.errors import SlmlabError


def build_on_meta(config: dict):
    """A transformers model with the config's exact shapes and no memory (PyTorch's meta device)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(transformers_config(config))


def transformers_config(config: dict):
    """A config.json's dict as a transformers config object of its `model_type`."""
    from transformers import AutoConfig

    config = dict(config)
    model_type = config.pop("model_type", None)
    if model_type is None:
        raise SlmlabError("the config has no model_type: is it a transformers config.json?")
    try:
        with quiet.transformers_quiet():  # config-format notices (e.g. Phi's rope fields) are not the learner's concern
            return AutoConfig.for_model(model_type, **config)
    except (KeyError, ValueError) as e:
        raise SlmlabError(f"transformers does not know the architecture {model_type!r}: {e}") from None
