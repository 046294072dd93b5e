#!/usr/bin/python3
"""Writes the .npy fixtures under tests/tools/data/ with NumPy itself.

The files are committed, so the tests need no Python; rerun this script
(with Debian's /usr/bin/python3 and python3-numpy) only to change them:

    /usr/bin/python3 tests/tools/make_npy_fixtures.py

npy_test.cc checks the values written here, and that Tessera's writer
produces the same bytes as NumPy for the "roundtrip" files. The features_*
files are inputs for the CLI tests (models/gated_mlp.tess takes
"features" f32 [batch, 32]).
"""
import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def save(name, array, version=None):
    path = os.path.join(DATA, name)
    if version is None:
        np.save(path, array, allow_pickle=array.dtype == object)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=version)


def main():
    os.makedirs(DATA, exist_ok=True)

    # One file per Tessera dtype, with edge values; written by np.save
    # (format 1.0), so Tessera's writer must reproduce them byte for byte.
    save("f32_2x3.npy", (np.arange(6, dtype="<f4") * 0.5 - 1.0).reshape(2, 3))
    save("f16_4.npy", np.array([0.5, -2.0, 65504.0, 0.0], dtype="<f2"))
    save("i32_3.npy", np.array([-2**31, 0, 2**31 - 1], dtype="<i4"))
    save("i64_2x2.npy", np.array([[-2**63, -1], [1, 2**63 - 1]], dtype="<i8"))
    save("i8_5.npy", np.array([-128, -1, 0, 1, 127], dtype="i1"))
    save("u8_4.npy", np.array([0, 1, 128, 255], dtype="u1"))
    save("bool_2x2.npy", np.array([[True, False], [False, True]]))
    save("scalar_f32.npy", np.array(3.25, dtype="<f4"))
    save("empty_f32_0x3.npy", np.zeros((0, 3), dtype="<f4"))
    # Rank 16: here the spare room NumPy leaves after the first dim pushes
    # the header from 128 to 192 bytes, so a writer without it differs.
    save("empty_f32_rank16.npy", np.zeros((0,) + (1,) * 15, dtype="<f4"))
    # A first dim with more digits changes the growth padding NumPy writes.
    save("i8_1000.npy", (np.arange(1000) % 100).astype("i1"))

    # The newer header versions (4-byte header length; 3.0 allows UTF-8).
    save("f32_2x3_v2.npy", (np.arange(6, dtype="<f4") * 0.5 - 1.0).reshape(2, 3), version=(2, 0))
    save("f32_2x3_v3.npy", (np.arange(6, dtype="<f4") * 0.5 - 1.0).reshape(2, 3), version=(3, 0))

    # Valid NumPy files that Tessera must refuse.
    save("fortran_f32.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
    save("bigendian_f32.npy", np.arange(3, dtype=">f4"))
    save("complex64.npy", np.zeros(2, dtype="<c8"))
    save("f64.npy", np.zeros(2, dtype="<f8"))
    save("object.npy", np.array([1, "a", None], dtype=object))
    save("structured.npy", np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))

    # Inputs for the CLI tests against models/gated_mlp.tess.
    features = np.linspace(-1.0, 1.0, 4 * 32, dtype="<f4").reshape(4, 32)
    save("features_4x32_f32.npy", features)
    save("features_4x31_f32.npy", features[:, :31].copy())
    save("features_32_f32.npy", features[0].copy())
    save("features_4x32_i64.npy", np.arange(4 * 32, dtype="<i8").reshape(4, 32))
    # A real header followed by half of the data.
    with open(os.path.join(DATA, "features_4x32_f32.npy"), "rb") as f:
        whole = f.read()
    with open(os.path.join(DATA, "features_truncated.npy"), "wb") as f:
        f.write(whole[: len(whole) - 256])


if __name__ == "__main__":
    main()
