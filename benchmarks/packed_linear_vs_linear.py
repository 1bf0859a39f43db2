#!/usr/bin/env python3
"""A linear layer's fp32 CPU product, at::linear against MKL's packed weight (what kernels/packed_linear.h runs), on
Wan2.1-1.3B's widths, one thread: four 1536 x 1536 products, 1536 -> 8960 and 8960 -> 1536, at each row count.

    ~/.cache/tessera/venv/bin/python benchmarks/packed_linear_vs_linear.py [--rows 512,768,1024,1536,2048] [--runs 6]

Per product: the median of --runs runs of each, in alternation; the gain is linear's time over the packed one's.
"""
import argparse
import statistics
import time

import torch


def median_seconds(function, runs):
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="512,768,1024,1536,2048")
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    products = [((1536, 1536), 4), ((8960, 1536), 1), ((1536, 8960), 1)]  # (weight [out, in], count per layer)
    for rows in [int(value) for value in args.rows.split(",")]:
        plain_total = packed_total = 0.0
        for (out_features, in_features), count in products:
            x, weight = torch.randn(rows, in_features), torch.randn(out_features, in_features)
            bias = torch.randn(out_features)
            packed = torch.ops.mkl._mkl_reorder_linear_weight(weight, rows)
            plain_times, packed_times = [], []
            for _ in range(args.runs):  # alternating, so that a drift of the machine reaches both
                plain_times.append(median_seconds(lambda: torch.nn.functional.linear(x, weight, bias), 1))
                packed_times.append(median_seconds(lambda: torch.ops.mkl._mkl_linear(x, packed, weight, bias, rows), 1))
            plain, fast = statistics.median(plain_times), statistics.median(packed_times)
            plain_total += count * plain
            packed_total += count * fast
            print(f"{rows:5d} rows, weight {out_features}x{in_features}: linear {plain * 1e3:7.1f} ms, packed "
                  f"{fast * 1e3:7.1f} ms, {100 * (plain / fast - 1):+.1f}%")
        print(f"{rows:5d} rows, one layer's products: linear {plain_total * 1e3:.0f} ms, packed "
              f"{packed_total * 1e3:.0f} ms, {100 * (plain_total / packed_total - 1):+.1f}%")


if __name__ == "__main__":
    main()
