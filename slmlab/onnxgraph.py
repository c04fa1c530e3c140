"""Reading and running ONNX graphs, for notebook 05: what a graph holds, where its bytes are, tiny graphs run alone.

An ONNX file is a graph: nodes (one operator each, reading and writing named tensors) and initializers (the tensors
stored in the file). The `onnx` package reads it as plain data; the functions here count, follow and measure it,
and run a few hand-made nodes through onnxruntime so that a by-hand computation can be compared with the tool's.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _graph(path: str | Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph  # a tensor in model.onnx.data is listed, not read


def follow(path: str | Path, start: str = "Gather", depth: int = 3) -> list[str]:
    """The graph's first nodes, followed from the first `start` node (the token-embedding lookup) to the nodes that
    read what it wrote, `depth` steps: one line each, "operator (inputs) → outputs", indented by step."""
    graph = _graph(path)
    readers = collections.defaultdict(list)  # tensor name → the nodes that read it
    for node in graph.node:
        for name in node.input:
            readers[name].append(node)
    lines, frontier = [], [next(n for n in graph.node if n.op_type == start)]
    for step in range(depth):
        for node in frontier:
            outputs = ", ".join(filter(None, node.output))
            lines.append(f"{'    ' * step}{node.op_type} ({', '.join(node.input)}) → {outputs}")
        frontier = list({n.name: n for m in frontier for out in m.output for n in readers[out]}.values())
    return lines


def summary(path: str | Path) -> str:
    """One line: how many nodes and initializers a graph has, and its inputs."""
    graph = _graph(path)
    inputs = ", ".join(i.name for i in graph.input)
    return f"{len(graph.node)} nodes, {len(graph.initializer)} initializers; inputs: {inputs}"


def op_counts(path: str | Path) -> collections.Counter:
    """How many nodes of each operator a graph has."""
    return collections.Counter(n.op_type for n in _graph(path).node)


def op_table(graphs: dict[str, str | Path]):
    """Nodes per operator, one column per graph (name → ONNX file), the most frequent operators last."""
    import pandas as pd

    table = pd.DataFrame({name: op_counts(path) for name, path in graphs.items()}).fillna(0).astype(int)
    return table.loc[table.max(axis=1).sort_values().index]


def plot_op_table(table, title: str):
    """A horizontal bar per operator and graph: a fusion shows as bars that shrink and a new operator's bar."""
    import matplotlib.pyplot as plt

    ax = table.plot.barh(figsize=(8, 0.2 * len(table) + 1.5), width=0.8)
    ax.set_xlabel("nodes of this operator")
    totals = " → ".join(str(n) for n in table.sum())
    ax.set_title(f"{title}\n{' → '.join(table.columns)}: {totals} nodes")
    plt.tight_layout()
    plt.show()


def forward_ms(lm, chunks: list[list[int]]) -> float:
    """Milliseconds per forward pass of an `olive.OnnxLM` over each chunk of token ids, after one warm-up pass."""
    lm.logits(chunks[0])
    start = time.perf_counter()
    for ids in chunks:
        lm.logits(ids)
    return (time.perf_counter() - start) / len(chunks) * 1000


def bytes_by_dtype(path: str | Path) -> dict[str, int]:
    """A file's bytes by element type: each initializer's elements × bytes per element (from its shape and type),
    plus the graph itself — nodes, names and shapes — measured by serializing the model without its initializers.
    The two are measured apart, so that their sum landing on the file's size is a check."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    sizes: collections.Counter = collections.Counter()
    for t in model.graph.initializer:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
        sizes[dtype.name] += int(np.prod(t.dims, dtype=np.int64)) * dtype.itemsize
    del model.graph.initializer[:]
    sizes["graph (nodes, names, shapes)"] = model.ByteSize()
    return dict(sizes)


def plot_bytes_by_dtype(by_dtype, title: str):
    """One stacked bar per file: MB by element type, the largest kinds first."""
    import matplotlib.pyplot as plt

    by_dtype = by_dtype[by_dtype.sum().sort_values(ascending=False).index]
    ax = by_dtype.plot.barh(stacked=True, figsize=(9, 0.5 * len(by_dtype) + 1.5))
    ax.set_xlabel("MB (10⁶ bytes)")
    ax.invert_yaxis()
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title(title)
    plt.tight_layout()
    plt.show()


def run_nodes(
    nodes: list, inputs: dict[str, np.ndarray], initializers: dict[str, np.ndarray], outputs: list[str]
) -> list[np.ndarray]:
    """Run a few nodes (made with `onnx.helper.make_node`) as a graph of their own with onnxruntime: `inputs` are
    fed, `initializers` stored in the graph, and `outputs` (any tensor a node writes) returned, in order."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    dtype = helper.np_dtype_to_tensor_dtype
    feeds = [helper.make_tensor_value_info(n, dtype(a.dtype), a.shape) for n, a in inputs.items()]
    graph = helper.make_graph(
        nodes,
        "by_hand",
        feeds,
        [helper.make_empty_tensor_value_info(n) for n in outputs],  # onnxruntime infers their types
        [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(outputs, inputs)


@dataclass
class Int8MatMul:
    """The first matrix product of a dynamic INT8 model, with what it needs to be redone by hand."""

    name: str  # the MatMulInteger's output
    weight: str  # the FP32 weight's name
    x: np.ndarray  # the activation it receives on the given tokens, float32
    w: np.ndarray  # its weight as stored in the FP32 model, float32
    w_stored: np.ndarray  # as stored in the INT8 model: int8
    w_zero: np.ndarray  # its zero point
    w_scale: np.ndarray  # its scale(s)


def first_int8_matmul(int8_model: str | Path, fp32_model: str | Path, ids: list[int], threads: int = 1) -> Int8MatMul:
    """The INT8 model's first `MatMulInteger`: its stored int8 weight, zero point and scale, the FP32 weight it was
    made from (the quantizer names its tensors after it), and the activation it really receives on `ids` — read by
    giving the INT8 model the input of its `DynamicQuantizeLinear` as an extra output."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from slmlab import olive

    model = onnx.load(str(int8_model))
    stored = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    matmul = next(n for n in model.graph.node if n.op_type == "MatMulInteger")
    quantize = next(n for n in model.graph.node if n.output[0] == matmul.input[0])  # its DynamicQuantizeLinear
    w_name = matmul.input[1].removesuffix("_quantized")
    w = next(numpy_helper.to_array(t) for t in onnx.load(str(fp32_model)).graph.initializer if t.name == w_name)
    model.graph.output.append(helper.make_tensor_value_info(quantize.input[0], TensorProto.FLOAT, None))
    x = olive.OnnxLM(model.SerializeToString(), threads=threads).outputs(ids, [quantize.input[0]])[0]
    return Int8MatMul(
        matmul.output[0], w_name, x, w, stored[matmul.input[1]], stored[matmul.input[3]], stored[w_name + "_scale"]
    )


def matmulnbits_format(path: str | Path) -> dict:
    """How a ModelBuilder INT4 file stores its matrices: the first `MatMulNBits` node's bits, block size, the
    element type of its scales, and whether it has zero points (its 4th input, when there is one)."""
    from onnx import helper

    graph = _graph(path)
    node = next(n for n in graph.node if n.op_type == "MatMulNBits")
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    scales = next(t for t in graph.initializer if t.name == node.input[2])
    return {
        "bits": attributes["bits"],
        "block_size": attributes["block_size"],
        "scale dtype": helper.tensor_dtype_to_np_dtype(scales.data_type).name,
        "zero points": len(node.input) > 3 and bool(node.input[3]),
    }
