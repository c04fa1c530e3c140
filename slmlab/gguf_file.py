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
    import gguf  # the copy vendored with llama.cpp, installed by `make setup`: its type tables

    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise SlmlabError(f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    try:
        header = _skim(path, size, mtime_ns)
    except Exception as e:  # struct errors, index errors … on a damaged or cut header
        raise SlmlabError(f"{path} is a damaged or truncated GGUF file ({type(e).__name__}: {e})") from None
    tensors = []
    for name, shape, type_id, offset in header.tensors:
        kind = gguf.GGMLQuantizationType(type_id)
        block, block_bytes = gguf.GGML_QUANT_SIZES[kind]
        n_elements = 1
        for d in shape:
            n_elements *= d
        n_bytes = n_elements // block * block_bytes
        if header.data_offset + offset + n_bytes > size:
            raise SlmlabError(
                f"{path} is truncated: tensor {name} ends at byte {header.data_offset + offset + n_bytes:,} "
                f"but the file has {size:,} bytes. Download or convert it again."
            )
        tensors.append(TensorInfo(name, kind.name, shape, n_elements, n_bytes))
    if not tensors:
        raise SlmlabError(f"{path} holds no tensors: it is not a model")
    field = header.fields.get
    arch = field("general.architecture") or "unknown"
    ftype = field("general.file_type")
    try:
        file_type = (
            "unknown" if ftype is None else gguf.LlamaFileType(ftype).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        )
    except ValueError:
        file_type = f"type {ftype}"
    return GGUFInfo(
        path=path,
        size_bytes=size,
        architecture=str(arch),
        name=str(field("general.name") or path.stem),
        file_type=file_type,
        context_length=field(f"{arch}.context_length"),
        tensors=tensors,
        description=field("general.description"),
        n_vocab=header.n_vocab,
    )


_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type → bytes
_FORMAT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass
class Header:
    n_vocab: int | None  # entries in tokenizer.ggml.tokens
    data_offset: int  # where tensor data starts: everything before it is metadata
    fields: dict = field(repr=False)  # the scalar and string key/values (not the arrays)
    tensors: list = field(repr=False)  # (name, shape as stored, type id, offset in the data section)


@functools.lru_cache(maxsize=32)
def _skim(path: Path, size: int, mtime_ns: int) -> Header:
    """Walk a GGUF header with struct: the key/values (arrays skipped, their length noted) and the tensor table."""
    import mmap
    import struct

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise SlmlabError(f"{path} is not a GGUF file")
        _, n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
        pos, n_vocab, fields, tensors = 24, None, {}, []

        def string(at: int) -> tuple[bytes, int]:
            (n,) = struct.unpack_from("<Q", m, at)
            if at + 8 + n > size:
                raise IndexError("a string runs past the end of the file")
            return m[at + 8 : at + 8 + n], at + 8 + n

        for _ in range(n_kv):
            key, pos = string(pos)
            (kind,) = struct.unpack_from("<I", m, pos)
            pos += 4
            if kind == _STRING:
                value, pos = string(pos)
                fields[key.decode()] = value.decode(errors="replace")
            elif kind == _ARRAY:
                item, count = struct.unpack_from("<IQ", m, pos)
                pos += 12
                if key == b"tokenizer.ggml.tokens":
                    n_vocab = count
                if item == _STRING:
                    for _ in range(count):
                        (n,) = struct.unpack_from("<Q", m, pos)
                        pos += 8 + n
                else:
                    pos += count * _SCALAR[item]
            else:
                (fields[key.decode()],) = struct.unpack_from("<" + _FORMAT[kind], m, pos)
                pos += _SCALAR[kind]
        for _ in range(n_tensors):
            name, pos = string(pos)
            (n_dims,) = struct.unpack_from("<I", m, pos)
            shape = struct.unpack_from(f"<{n_dims}Q", m, pos + 4)
            type_id, offset = struct.unpack_from("<IQ", m, pos + 4 + 8 * n_dims)
            pos += 4 + 8 * n_dims + 12
            tensors.append((name.decode(), tuple(int(d) for d in shape), type_id, offset))
    alignment = fields.get("general.alignment", 32)
    return Header(n_vocab, -(-pos // alignment) * alignment, fields, tensors)


def skim(path: str | Path) -> Header:
    """The few header facts sizing needs, read in a fraction of a second (the `gguf` package's reader parses
    every vocabulary string into Python objects: seconds for a 262k-token vocabulary)."""
    path = Path(path)
    st = path.stat()
    return _skim(path.resolve(), st.st_size, st.st_mtime_ns)


def vocabulary_size(path: str | Path) -> int:
    """How many tokens a GGUF's tokenizer holds — also for vocabulary-only files, which have no tensors."""
    n = skim(path).n_vocab
    if n is None:
        raise SlmlabError(f"{path} has no tokenizer")
    return n


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
