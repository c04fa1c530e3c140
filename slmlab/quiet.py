"""Quieting libraries for a block, and putting back exactly what was changed afterwards.

A lesson's output is the lesson's: transformers' notices and progress bars, onnxruntime's and the exporters' C++
logging, Olive's log lines and mlx-lm's `[INFO]` prints are not. Every silencing in the package goes through these
context managers, and each restores the state it found (no global setting is left changed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from typing import TextIO


def console_handlers() -> list[logging.StreamHandler]:
    """Every logging handler that writes to a stream rather than to a file it owns (consoles, in practice)."""
    named = (lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))
    loggers = [logging.getLogger(), *named]
    return [h for lg in loggers for h in lg.handlers if type(h) is logging.StreamHandler]


@contextlib.contextmanager
def all_output_to(log: TextIO):
    """Everything printed inside the block goes to `log`: print(), warnings, tqdm bars, logging handlers that
    write to the console, and C/C++ code writing to file descriptors 1 and 2 (onnxruntime, the exporters)."""
    moved = [(h, h.stream) for h in console_handlers()]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        for h, _ in moved:
            h.stream = log  # not setStream(), which flushes the old stream first (it may be a closed one)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        for h, stream in moved:
            h.stream = stream
        for h in console_handlers():  # created inside the block, with `log` as their console
            if h.stream is log:
                h.stream = sys.stderr


@contextlib.contextmanager
def transformers_quiet() -> Iterator[None]:
    """transformers' warnings and notices (config-format notes such as Phi's rope fields) and its progress bars
    ("Loading weights", drawn as notebook widgets that no stream redirect catches), off for the block."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def stdout_swallowed() -> Iterator[io.StringIO]:
    """What Python code prints inside the block goes to a buffer (yielded), not to the notebook."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


@contextlib.contextmanager
def root_logger_kept():
    """Put the root logger back as it was: onnxruntime's MatMulNBits quantizer calls `logging.basicConfig(level=INFO)`
    when Olive imports it, after which every library's INFO lines (httpx's "HTTP Request: …") fill the notebook."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
