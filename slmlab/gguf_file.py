"""Reading GGUF files with the `gguf` package, before llama.cpp ever sees them.

A truncated or corrupt file makes llama.cpp crash in C; reading the header and the tensor table
here first turns that into a one-line error. The same reader tells which type each tensor really
has, so a test can check that a "Q4_0" file holds Q4_0 weight matrices.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from slmlab.errors import SlmlabError

FLOAT_TYPES = {"F32", "F16", "BF16", "F64"}


@dataclass
class TensorInfo:
    name: str
    type: str
    shape: tuple[int, ...]
    n_elements: int
    n_bytes: int


@dataclass
class GGUFInfo:
    path: Path
    size_bytes: int
    architecture: str
    name: str
    file_type: str
    context_length: int | None
    tensors: list[TensorInfo] = field(repr=False)
    description: str | None = None  # general.description: the converter copies it from the model card
    n_vocab: int | None = None  # entries in the tokenizer's vocabulary (tokenizer.ggml.tokens)

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def bits_per_weight(self) -> float:
        """Measured: all tensor bytes × 8 / all parameters (norms and embeddings included)."""
        return 8 * self.tensor_bytes / self.n_params

    @property
    def weight_matrices(self) -> list[TensorInfo]:
        """The 2-D tensors: the weights a quantization type is about (norms are 1-D)."""
        return [t for t in self.tensors if len(t.shape) >= 2]

    @property
    def matrix_types(self) -> dict[str, int]:
        """Number of parameters per type, over the weight matrices."""
        counts: Counter[str] = Counter()
        for t in self.weight_matrices:
            counts[t.type] += t.n_elements
        return dict(counts.most_common())

    @property
    def is_quantized(self) -> bool:
        return any(t.type not in FLOAT_TYPES for t in self.weight_matrices)


def read_gguf(path: str | Path) -> GGUFInfo:
    """Read a GGUF file's header and tensor table; raise SlmlabError if it is missing, not GGUF, or cut short.

    Results are cached per (path, size, modification time): a big vocabulary makes the header slow to parse.
    """
    path = Path(path)
    if not path.is_file():
        raise SlmlabError(f"no such GGUF file: {path}")
    st = path.stat()
    info = _read_gguf(path.resolve(), st.st_size, st.st_mtime_ns)
    return dataclasses.replace(info, path=path)


@functools.lru_cache(maxsize=64)
def _read_gguf(path: Path, size: int, mtime_ns: int) -> GGUFInfo:
    import gguf  # the copy vendored with llama.cpp, installed by `make setup`

    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise SlmlabError(f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the reader raises ValueError, IndexError, struct errors … on damaged files
        raise SlmlabError(f"{path} is a damaged or truncated GGUF file ({type(e).__name__}: {e})") from None
    tensors = []
    for t in reader.tensors:
        if t.data_offset + t.n_bytes > size:
            raise SlmlabError(
                f"{path} is truncated: tensor {t.name} ends at byte {t.data_offset + t.n_bytes:,} "
                f"but the file has {size:,} bytes. Download or convert it again."
            )
        tensors.append(TensorInfo(t.name, t.tensor_type.name, tuple(int(x) for x in t.shape),
                                  int(t.n_elements), int(t.n_bytes)))
    if not tensors:
        raise SlmlabError(f"{path} holds no tensors: it is not a model")

    def field_value(key: str):
        f = reader.get_field(key)
        return None if f is None else f.contents()

    arch = field_value("general.architecture") or "unknown"
    ftype = field_value("general.file_type")
    try:
        file_type = "unknown" if ftype is None else \
            gguf.LlamaFileType(ftype).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except ValueError:
        file_type = f"type {ftype}"
    return GGUFInfo(
        path=path,
        size_bytes=size,
        architecture=str(arch),
        name=str(field_value("general.name") or path.stem),
        file_type=file_type,
        context_length=field_value(f"{arch}.context_length"),
        tensors=tensors,
        description=field_value("general.description"),
        n_vocab=len(tokens.data) if (tokens := reader.get_field("tokenizer.ggml.tokens")) is not None else None,
    )


def vocabulary_size(path: str | Path) -> int:
    """How many tokens a GGUF's tokenizer holds — also for vocabulary-only files, which have no tensors."""
    import gguf

    tokens = gguf.GGUFReader(Path(path)).get_field("tokenizer.ggml.tokens")
    if tokens is None:
        raise SlmlabError(f"{path} has no tokenizer")
    return len(tokens.data)


def bytes_read_per_token(info: GGUFInfo) -> int:
    """Weight bytes one generated token reads: every matrix once, except the token-embedding table, of which a
    single row is read — unless it is tied to the output, whose matrix-vector product reads all of it."""
    names = {t.name for t in info.tensors}
    tied = "output.weight" not in names
    total = 0
    for t in info.tensors:
        if t.name == "token_embd.weight" and not tied:
            total += t.n_bytes // t.shape[-1]  # one row of the table
        else:
            total += t.n_bytes
    return total
