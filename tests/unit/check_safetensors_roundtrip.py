#!/usr/bin/env python3
"""safetensors files exchanged between tessera and Python's safetensors package, both ways.

Usage: check_safetensors_roundtrip.py TESSERA_UNIT_TESTS WORK_DIR

Writes WORK_DIR/python_written.safetensors with safetensors.torch, runs the SafetensorsInterop tests of
the C++ unit test binary (which read that file and write WORK_DIR/cpp_written.safetensors), then loads the
C++-written file with safetensors.torch.load_file. The tensors follow the recipe in test_safetensors.cpp.
"""
import os
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
SHAPES = [(), (0,), (3, 0, 2), (7,), (3, 5, 2), (1, 1, 13)]


def tensor_name(dtype_name, shape):
    return dtype_name + "_" + ("x".join(str(d) for d in shape) if shape else "scalar")


def recipe(dtype, shape):
    numel = 1
    for dim in shape:
        numel *= dim
    i = torch.arange(numel, dtype=torch.float64)
    if dtype == torch.bool:
        values = i.remainder(3) == 0
    elif dtype == torch.uint8:
        values = (i * 7).remainder(256)
    elif dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
        values = (i.remainder(16) - 8) * 0.5
    elif dtype.is_floating_point:
        values = (i.remainder(100) - 50) * 0.5
    else:
        values = i.remainder(100) - 50
    return values.to(dtype).reshape(shape)


def recipe_tensors():
    return {tensor_name(name, shape): recipe(dtype, shape) for name, dtype in DTYPES.items() for shape in SHAPES}


def same_bytes(actual, expected):
    return (actual.dtype == expected.dtype and actual.shape == expected.shape and
            torch.equal(actual.contiguous().reshape(-1).view(torch.uint8),
                        expected.contiguous().reshape(-1).view(torch.uint8)))


def main():
    binary, work_dir = sys.argv[1], sys.argv[2]
    os.makedirs(work_dir, exist_ok=True)
    cpp_path = os.path.join(work_dir, "cpp_written.safetensors")
    if os.path.exists(cpp_path):
        os.remove(cpp_path)
    expected = recipe_tensors()
    save_file(expected, os.path.join(work_dir, "python_written.safetensors"), metadata={"writer": "python"})

    run = subprocess.run([binary, "--gtest_filter=SafetensorsInterop.*"], capture_output=True, text=True,
                         env={**os.environ, "TESSERA_SAFETENSORS_INTEROP_DIR": work_dir})
    print(run.stdout + run.stderr)
    if run.returncode != 0 or "[  PASSED  ] 2 tests" not in run.stdout or "SKIPPED" in run.stdout:
        print("FAIL: the C++ SafetensorsInterop tests did not both pass")
        return 1

    loaded = load_file(cpp_path)
    failures = [f"missing {name}" for name in expected if name not in loaded]
    failures += [f"unexpected {name}" for name in loaded if name not in expected]
    failures += [f"{name}: got {loaded[name]!r}, expected {tensor!r}"
                 for name, tensor in expected.items() if name in loaded and not same_bytes(loaded[name], tensor)]
    with safe_open(cpp_path, framework="pt") as handle:
        if handle.metadata() != {"writer": "tessera"}:
            failures.append(f"metadata {handle.metadata()!r}")
    for failure in failures:
        print("FAIL:", failure)
    if not failures:
        print(f"OK: {len(expected)} tensors each way match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
