"""The calibration set for Olive's static INT8 quantization, cut from the course's own training text.

Olive imports this file by path (the data config's `user_script`); importing it registers the dataset
`slmlab_calibration`. `OnnxStaticQuantization` runs the model on these windows and records the range of
every activation, which fixes each activation's INT8 scale ahead of time (dynamic INT8 measures it on
every request instead). Calibrate on text like the text the model will see — and never on the held-out
text you evaluate with.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from olive.data.registry import Registry

TRAIN_TEXT = Path(__file__).resolve().parents[1] / "data" / "corpus" / "stdlib-docstrings.train.txt.gz"


@Registry.register_dataset("slmlab_calibration")
def calibration_windows(model_path: str, samples: int = 16, length: int = 128, text_file: str = str(TRAIN_TEXT)):
    """`samples` windows of `length` tokens, evenly spaced through the text, each an (inputs, label) pair."""
    import torch
    from transformers import AutoTokenizer

    opener = gzip.open if text_file.endswith(".gz") else open
    with opener(text_file, "rt", encoding="utf-8") as f:
        text = f.read()
    ids = AutoTokenizer.from_pretrained(model_path)(text[: 200 * samples * length])["input_ids"]
    if len(ids) < samples * length:
        raise ValueError(f"{text_file} has {len(ids)} tokens, fewer than {samples} × {length} for calibration")
    step = (len(ids) - length) // samples
    windows = []
    for i in range(samples):
        x = torch.tensor(ids[i * step : i * step + length])
        inputs = {"input_ids": x, "attention_mask": torch.ones_like(x), "position_ids": torch.arange(length)}
        windows.append((inputs, 0))
    return windows
