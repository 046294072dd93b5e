#!/usr/bin/python3
"""Writes the small .onnx fixtures of onnx_importer_test.cc into fixtures/.

Run with Debian's system Python and its onnx package (python3-onnx, ONNX
1.12); the fixtures are committed, so building and testing Tessera needs
neither:

    /usr/bin/python3 tests/graph/onnx/make_onnx_fixtures.py

The output is deterministic: the same onnx version writes the same bytes.
Expected values are computed in the C++ test from the inputs it feeds, not
stored here.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def save(name, graph, opset=17, ir_version=8, extra_opsets=()):
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="make_onnx_fixtures.py")
    model.ir_version = ir_version
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(model.SerializeToString())


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def attributes():
    # Every attribute type the importer maps: floats and ints (Gemm), ints
    # (Transpose perm), strings and a string (LSTM activations, direction),
    # a float (LSTM clip).
    rng = np.random.RandomState(1)
    w = numpy_helper.from_array(rng.uniform(-1, 1, (1, 16, 3)).astype(np.float32), "W")
    r = numpy_helper.from_array(rng.uniform(-1, 1, (1, 16, 4)).astype(np.float32), "R")
    b = numpy_helper.from_array(rng.uniform(-1, 1, (2, 5)).astype(np.float32), "B")
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], name="transpose", perm=[1, 0]),
        helper.make_node("Gemm", ["xt", "B"], ["g"], name="gemm", alpha=0.5, beta=2.0, transA=0, transB=0),
        helper.make_node("Unsqueeze", ["x", "axis0"], ["x3"], name="unsqueeze"),
        helper.make_node("LSTM", ["x3", "W", "R"], ["", "h"], name="lstm", hidden_size=4, direction="reverse",
                         activations=["Sigmoid", "Tanh", "Tanh"], clip=0.75),
    ]
    axis0 = numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0")
    graph = helper.make_graph(nodes, "attributes", [vi("x", TensorProto.FLOAT, [2, 3])],
                              [vi("g", TensorProto.FLOAT, [3, 5]), vi("h", TensorProto.FLOAT, [1, 2, 4])],
                              initializer=[w, r, b, axis0])
    save("attributes.onnx", graph)


def initializers():
    # One initializer per dtype, in raw_data and in the typed fields, each
    # passed through Identity to a graph output.
    values = {
        "f32": (np.array([[1.5, -2.25, 3.0], [0.0, 1e-3, -7.5]], dtype=np.float32), TensorProto.FLOAT),
        "i64": (np.array([1, -2, 3_000_000_000_000], dtype=np.int64), TensorProto.INT64),
        "i32": (np.array([7, -8, 2_000_000_000], dtype=np.int32), TensorProto.INT32),
        "i8": (np.array([-128, 0, 127], dtype=np.int8), TensorProto.INT8),
        "u8": (np.array([0, 200, 255], dtype=np.uint8), TensorProto.UINT8),
        "bool": (np.array([True, False, True, True], dtype=np.bool_), TensorProto.BOOL),
        "f16": (np.array([1.0, -0.5, 65504.0], dtype=np.float16), TensorProto.FLOAT16),
        "scalar": (np.array(4.25, dtype=np.float32), TensorProto.FLOAT),
    }
    inits, nodes, outputs = [], [], []
    for name, (array, elem) in values.items():
        for form in ("raw", "typed"):
            tname = f"{name}_{form}"
            if form == "raw":
                tensor = numpy_helper.from_array(array, tname)
            else:
                tensor = helper.make_tensor(tname, elem, array.shape, array.flatten().tolist())
            assert tensor.HasField("raw_data") == (form == "raw"), tname
            inits.append(tensor)
            nodes.append(helper.make_node("Identity", [tname], [tname + "_out"], name="id_" + tname))
            outputs.append(vi(tname + "_out", elem, list(array.shape)))
    # bfloat16 (NumPy has no such dtype): 1.0, -2.0, 0.5 are 0x3F80, 0xC000,
    # 0x3F00; typed values go to int32_data as bits.
    bf16_bits = np.array([0x3F80, 0xC000, 0x3F00], dtype=np.uint16)
    for form in ("raw", "typed"):
        tname = f"bf16_{form}"
        if form == "raw":
            tensor = helper.make_tensor(tname, TensorProto.BFLOAT16, [3], bf16_bits.tobytes(), raw=True)
        else:
            tensor = helper.make_tensor(tname, TensorProto.BFLOAT16, [3], [1.0, -2.0, 0.5])
        assert tensor.HasField("raw_data") == (form == "raw"), tname
        inits.append(tensor)
        nodes.append(helper.make_node("Identity", [tname], [tname + "_out"], name="id_" + tname))
        outputs.append(vi(tname + "_out", TensorProto.BFLOAT16, [3]))
    # An unused initializer is dropped by the importer.
    inits.append(numpy_helper.from_array(np.zeros((64,), dtype=np.float32), "unused"))
    graph = helper.make_graph(nodes, "initializers", [], outputs, initializer=inits)
    save("initializers.onnx", graph)


def symbolic_dims():
    # x: [batch, seq, 8] by name, y: an unnamed dynamic dim.
    rng = np.random.RandomState(2)
    w = numpy_helper.from_array(rng.uniform(-1, 1, (8, 4)).astype(np.float32), "W")
    x = vi("x", TensorProto.FLOAT, ["batch", "seq", 8])
    y_in = helper.make_tensor_value_info("bias", TensorProto.FLOAT, [None])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "bias"], ["y"], name="add"),
    ]
    graph = helper.make_graph(nodes, "symbolic_dims", [x, y_in], [vi("y", TensorProto.FLOAT, ["batch", "seq", 4])],
                              initializer=[w],
                              value_info=[vi("xw", TensorProto.FLOAT, ["batch", "seq", 4])])
    save("symbolic_dims.onnx", graph)


def opset_pair(op_name, opset, graph):
    save(f"{op_name}_opset{opset}.onnx", graph, opset=opset)


def opset_differences():
    x = vi("x", TensorProto.FLOAT, [2, 3, 4])
    # Softmax: before 13 the input is coerced to 2-D at `axis` (normalized
    # over dims axis..end); from 13 over `axis` alone.
    for opset in (11, 13):
        graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=1)], "softmax",
                                  [x], [vi("y", TensorProto.FLOAT, [2, 3, 4])])
        opset_pair("softmax", opset, graph)
    # Squeeze / Unsqueeze: axes attribute before 13, an input from 13.
    xs = vi("x", TensorProto.FLOAT, [2, 1, 4])
    graph = helper.make_graph([helper.make_node("Squeeze", ["x"], ["y"], name="squeeze", axes=[1])], "squeeze", [xs],
                              [vi("y", TensorProto.FLOAT, [2, 4])])
    opset_pair("squeeze", 11, graph)
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    graph = helper.make_graph([helper.make_node("Squeeze", ["x", "axes"], ["y"], name="squeeze")], "squeeze", [xs],
                              [vi("y", TensorProto.FLOAT, [2, 4])], initializer=[axes])
    opset_pair("squeeze", 13, graph)
    graph = helper.make_graph([helper.make_node("Unsqueeze", ["x"], ["y"], name="unsqueeze", axes=[0, 3])],
                              "unsqueeze", [x], [vi("y", TensorProto.FLOAT, [1, 2, 3, 1, 4])])
    opset_pair("unsqueeze", 11, graph)
    axes03 = numpy_helper.from_array(np.array([0, 3], dtype=np.int64), "axes")
    graph = helper.make_graph([helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="unsqueeze")], "unsqueeze",
                              [x], [vi("y", TensorProto.FLOAT, [1, 2, 3, 1, 4])], initializer=[axes03])
    opset_pair("unsqueeze", 13, graph)
    # Split: `split` attribute before 13, an input from 13.
    outs = [vi("a", TensorProto.FLOAT, [2, 3, 1]), vi("b", TensorProto.FLOAT, [2, 3, 3])]
    graph = helper.make_graph([helper.make_node("Split", ["x"], ["a", "b"], name="split", axis=2, split=[1, 3])],
                              "split", [x], outs)
    opset_pair("split", 11, graph)
    sizes = numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "sizes")
    graph = helper.make_graph([helper.make_node("Split", ["x", "sizes"], ["a", "b"], name="split", axis=2)], "split",
                              [x], outs, initializer=[sizes])
    opset_pair("split", 13, graph)
    # ReduceMean keeps its axes attribute through 17.
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["y"], name="reducemean", axes=[-1], keepdims=0)], "reducemean", [x],
        [vi("y", TensorProto.FLOAT, [2, 3])])
    opset_pair("reducemean", 13, graph)


def unsupported_ops():
    # Two unknown op types (one in two nodes, one in an unnamed node), a
    # custom-domain op, an op Tessera has only at a later op set
    # (LayerNormalization is 17+, this model imports 13), and supported ops
    # between them.
    x = vi("x", TensorProto.FLOAT, [2, 4])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Floor", ["r"], ["f1"], name="floor_a"),
        helper.make_node("Floor", ["f1"], ["f2"], name="floor_b"),
        helper.make_node("HardSwish", ["f2"], ["h"]),
        helper.make_node("FancyOp", ["h"], ["c"], name="custom", domain="com.example"),
        helper.make_node("LayerNormalization", ["c", "scale"], ["y"], name="layer_norm"),
    ]
    scale = numpy_helper.from_array(np.ones((4,), dtype=np.float32), "scale")
    graph = helper.make_graph(nodes, "unsupported", [x], [vi("y", TensorProto.FLOAT, [2, 4])], initializer=[scale])
    save("unsupported_ops.onnx", graph, opset=13, extra_opsets=[("com.example", 1)])


def constants():
    # Constant nodes in each form, and ConstantOfShape with a `value`
    # tensor, all feeding arithmetic.
    x = vi("x", TensorProto.FLOAT, [2, 3])
    nodes = [
        helper.make_node("Constant", [], ["c_tensor"], name="c_tensor",
                         value=numpy_helper.from_array(np.array([1.0, 2.0, 3.0], dtype=np.float32))),
        helper.make_node("Constant", [], ["c_floats"], name="c_floats", value_floats=[10.0, 20.0, 30.0]),
        helper.make_node("Constant", [], ["c_float"], name="c_float", value_float=0.5),
        helper.make_node("Constant", [], ["c_ints"], name="c_ints", value_ints=[2, 3]),
        helper.make_node("Add", ["x", "c_tensor"], ["a"], name="add"),
        helper.make_node("Add", ["a", "c_floats"], ["b"], name="add2"),
        helper.make_node("Mul", ["b", "c_float"], ["m"], name="mul"),
        helper.make_node("ConstantOfShape", ["c_ints"], ["fill"], name="fill",
                         value=numpy_helper.from_array(np.array([0.25], dtype=np.float32))),
        helper.make_node("Add", ["m", "fill"], ["y"], name="add3"),
    ]
    graph = helper.make_graph(nodes, "constants", [x], [vi("y", TensorProto.FLOAT, [2, 3])])
    save("constants.onnx", graph)


def refusals():
    x = vi("x", TensorProto.FLOAT, [2])
    # Initializer with external data.
    ext = helper.make_tensor("w", TensorProto.FLOAT, [2], [0.0, 0.0])
    ext.ClearField("float_data")
    ext.data_location = TensorProto.EXTERNAL
    entry = ext.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "external", [x],
                              [vi("y", TensorProto.FLOAT, [2])], initializer=[ext])
    save("external_data.onnx", graph)
    # A double initializer.
    dbl = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float64), "w64")
    graph = helper.make_graph([helper.make_node("Cast", ["w64"], ["wf"], name="cast", to=TensorProto.FLOAT),
                               helper.make_node("Add", ["x", "wf"], ["y"], name="add")], "double", [x],
                              [vi("y", TensorProto.FLOAT, [2])], initializer=[dbl])
    save("double_initializer.onnx", graph)
    # A graph input without a shape.
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "no_shape",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [vi("y", TensorProto.FLOAT, [2])])
    save("no_shape_input.onnx", graph)
    # Raw data of the wrong size.
    bad = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "w")
    bad.raw_data = bad.raw_data[:6]
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "short_raw", [x],
                              [vi("y", TensorProto.FLOAT, [2])], initializer=[bad])
    save("short_raw_data.onnx", graph)


def old_ir_initializer_inputs():
    # IR version 3 lists initializers among the graph inputs too.
    w = numpy_helper.from_array(np.array([1.0, -1.0], dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["y"], name="mul")], "ir3",
                              [vi("x", TensorProto.FLOAT, ["n", 2]), vi("w", TensorProto.FLOAT, [2])],
                              [vi("y", TensorProto.FLOAT, ["n", 2])], initializer=[w])
    save("ir3_initializer_inputs.onnx", graph, opset=9, ir_version=3)


def legacy_opsets():
    # Op-set 3 forms Tessera implements only later, rewritten by the
    # importer: Add with broadcast/axis, Relu with consumed_inputs, Reshape
    # with a shape attribute, Slice with attributes, Concat without axis (1
    # before op set 4), Gemm with broadcast.
    x = vi("x", TensorProto.FLOAT, [2, 3])
    b = numpy_helper.from_array(np.array([1.0, -2.0, 0.5], dtype=np.float32), "b")
    w = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(4, 2) / 8, "w")
    c = numpy_helper.from_array(np.array([0.25, -0.25], dtype=np.float32), "c")
    nodes = [
        helper.make_node("Add", ["x", "b"], ["added"], name="add", broadcast=1, axis=1),
        helper.make_node("Relu", ["added"], ["relu"], name="relu", consumed_inputs=[0]),
        helper.make_node("Reshape", ["relu"], ["reshaped"], name="reshape", shape=[3, 2]),
        helper.make_node("Slice", ["reshaped"], ["sliced"], name="slice", starts=[1], ends=[3], axes=[0]),
        helper.make_node("Concat", ["sliced", "sliced"], ["concat"], name="concat"),
        helper.make_node("Gemm", ["concat", "w", "c"], ["y"], name="gemm", broadcast=1),
    ]
    graph = helper.make_graph(nodes, "legacy", [x], [vi("y", TensorProto.FLOAT, [2, 2])], initializer=[b, w, c])
    save("legacy_opset3.onnx", graph, opset=3, ir_version=3)
    # Broadcast along an axis that is not numpy's alignment: refused.
    b2 = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "b2")
    graph = helper.make_graph([helper.make_node("Add", ["x", "b2"], ["y"], name="add", broadcast=1, axis=0)],
                              "legacy_axis", [x], [vi("y", TensorProto.FLOAT, [2, 3])], initializer=[b2])
    save("legacy_broadcast_axis.onnx", graph, opset=6, ir_version=3)


def cast_half():
    # f32 -> f16 -> f32 and f32 -> bf16 -> f32 (Cast's rounding both ways).
    x = vi("x", TensorProto.FLOAT, [6])
    nodes = [
        helper.make_node("Cast", ["x"], ["h"], name="to_f16", to=TensorProto.FLOAT16),
        helper.make_node("Cast", ["h"], ["y_f16"], name="from_f16", to=TensorProto.FLOAT),
        helper.make_node("Cast", ["x"], ["b"], name="to_bf16", to=TensorProto.BFLOAT16),
        helper.make_node("Cast", ["b"], ["y_bf16"], name="from_bf16", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "cast_half", [x],
                              [vi("y_f16", TensorProto.FLOAT, [6]), vi("y_bf16", TensorProto.FLOAT, [6])])
    save("cast_half.onnx", graph)


def main():
    os.makedirs(OUT, exist_ok=True)
    attributes()
    initializers()
    symbolic_dims()
    opset_differences()
    unsupported_ops()
    constants()
    refusals()
    old_ir_initializer_inputs()
    legacy_opsets()
    cast_half()
    print(f"wrote {len(os.listdir(OUT))} fixtures to {OUT} (onnx {onnx.__version__})")


if __name__ == "__main__":
    sys.exit(main())
