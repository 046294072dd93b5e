#!/usr/bin/python3
"""Exports small PyTorch models to ONNX, with reference inputs and outputs.

For developers making test fixtures; building and testing Tessera needs
neither PyTorch nor this script. Run with Debian's system Python and its
python3-torch and python3-onnx:

    /usr/bin/python3 tools/export_pytorch_models.py [OUT_DIR]

OUT_DIR defaults to tests/graph/onnx/pytorch. Each model gets a directory in
the layout of ONNX's backend test data, which tests/graph/onnx/
pytorch_models_test.cc reads:

    OUT_DIR/<model>/model.onnx
    OUT_DIR/<model>/test_data_set_N/input_K.pb    (TensorProto, K-th graph input)
    OUT_DIR/<model>/test_data_set_N/output_K.pb   (PyTorch's output, K-th graph output)

The models (fixed seeds, so the same PyTorch writes the same weights):
  lstm_classifier  token embedding -> LSTM -> last hidden state -> Linear -> Softmax
  bigru            a bidirectional GRU over float features: all states and h_n
  gpt_tiny         a 2-layer GPT-style decoder: token and learned position
                   embeddings, pre-LN blocks of causal multi-head attention
                   (additive mask) and a GELU MLP, final LayerNorm, logits
Batch and sequence length are dynamic axes; the data sets use different
sizes so the tests run the converted models at more than one shape.
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from onnx import numpy_helper

OPSET = 17
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LstmClassifier(nn.Module):
    def __init__(self, vocab=50, embed=16, hidden=32, classes=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.embed(tokens))
        return torch.softmax(self.head(h[-1]), dim=-1)


class BiGru(nn.Module):
    def __init__(self, features=12, hidden=20):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True, bidirectional=True)

    def forward(self, x):
        y, h = self.gru(x)
        return y, h


class Block(nn.Module):
    def __init__(self, d_model, heads, max_len):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)
        mask = torch.triu(torch.full((max_len, max_len), -1e9), diagonal=1)
        self.register_buffer("mask", mask)

    def forward(self, x):
        b, t, c = x.shape
        d = c // self.heads
        h = self.ln1(x)
        q = self.q(h).view(b, t, self.heads, d).transpose(1, 2)
        k = self.k(h).view(b, t, self.heads, d).transpose(1, 2)
        v = self.v(h).view(b, t, self.heads, d).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d) + self.mask[:t, :t]
        a = torch.softmax(scores, dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, c))
        return x + self.out(nn.functional.gelu(self.fc(self.ln2(x))))


class GptTiny(nn.Module):
    def __init__(self, vocab=64, d_model=32, heads=4, layers=2, max_len=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(1, max_len, d_model) * 0.1)
        self.blocks = nn.ModuleList([Block(d_model, heads, max_len) for _ in range(layers)])
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos[:, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def write_case(out_dir, name, model, inputs_per_set, input_names, output_names, dynamic_axes):
    case = os.path.join(out_dir, name)
    os.makedirs(case, exist_ok=True)
    model.eval()
    path = os.path.join(case, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, tuple(inputs_per_set[0]), path, opset_version=OPSET, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
        for n, inputs in enumerate(inputs_per_set):
            set_dir = os.path.join(case, f"test_data_set_{n}")
            os.makedirs(set_dir, exist_ok=True)
            outputs = model(*inputs)
            if isinstance(outputs, torch.Tensor):
                outputs = (outputs,)
            for k, t in enumerate(inputs):
                tensor = numpy_helper.from_array(t.numpy(), input_names[k])
                with open(os.path.join(set_dir, f"input_{k}.pb"), "wb") as f:
                    f.write(tensor.SerializeToString())
            for k, t in enumerate(outputs):
                tensor = numpy_helper.from_array(t.numpy(), output_names[k])
                with open(os.path.join(set_dir, f"output_{k}.pb"), "wb") as f:
                    f.write(tensor.SerializeToString())
    print(f"{name}: {os.path.getsize(path)} bytes, {len(inputs_per_set)} data sets")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "graph", "onnx", "pytorch")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)

    write_case(out_dir, "lstm_classifier", LstmClassifier(),
               [(torch.randint(0, 50, (2, 7), generator=gen),), (torch.randint(0, 50, (3, 11), generator=gen),)],
               ["tokens"], ["probs"], {"tokens": {0: "batch", 1: "seq"}, "probs": {0: "batch"}})

    torch.manual_seed(2)
    write_case(out_dir, "bigru", BiGru(),
               [(torch.randn(2, 5, 12, generator=gen),), (torch.randn(1, 9, 12, generator=gen),)],
               ["x"], ["y", "h"], {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}, "h": {1: "batch"}})

    torch.manual_seed(3)
    write_case(out_dir, "gpt_tiny", GptTiny(),
               [(torch.randint(0, 64, (2, 6), generator=gen),), (torch.randint(0, 64, (1, 13), generator=gen),)],
               ["tokens"], ["logits"], {"tokens": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}})


if __name__ == "__main__":
    sys.exit(main())
