#!/usr/bin/env python3
"""A model (not a measurement) of tessera's time per denoising step for Wan2.1-T2V-14B on H100 SXM GPUs.

    ~/.cache/tessera/venv/bin/python benchmarks/projection.py [--skip-measure]

Time per step = the transformer's forwards (two per step with classifier-free guidance: conditional and
unconditional), each priced from its FLOPs at assumed achievable H100 throughputs, its memory-bound element-wise
passes at assumed HBM bandwidth, and the bytes tessera's communicator moves at assumed NVLink / InfiniBand
bandwidths. The communication formula is derived from parallel/ulysses_attention.cpp, parallel/ring_attention.cpp,
parallel/context_parallel.cpp (the plan's proj_out gather) and parallel/cfg_parallel.cpp, and is checked here
against the bytes `tessera forward --stats` reports on a small random Wan config (2 and 4 MPI ranks on the CPU).
Text encoder, VAE and scheduler are excluded. Every constant below is named, with its source or marked as an
assumption. Writes benchmarks/results/projection_wan14b.json and prints the markdown table of
benchmarks/projection.md.
"""
import argparse
import json
import math
import pathlib
import re
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

# --- The model: diffusers' WanTransformer3DModel defaults, which are Wan-AI/Wan2.1-T2V-14B-Diffusers'
# transformer/config.json (diffusers/models/transformers/transformer_wan.py).
WAN14B = dict(num_layers=40, num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, in_channels=16,
              out_channels=16, text_dim=4096, freq_dim=256, patch_size=(1, 2, 2))
TEXT_TOKENS = 512                # UMT5 prompt length the Wan pipeline pads to (max_sequence_length=512)
VAE_COMPRESSION = (4, 8, 8)      # Wan VAE: frames (1 + 4k -> 1 + k), height, width
FRAMES = 81
RESOLUTIONS = {"480p": (480, 832), "720p": (720, 1280)}  # (height, width) in pixels
BYTES_PER_ELEMENT = 2            # bf16

# --- Hardware: cited peak figures.
H100_BF16_DENSE_FLOPS = 989.4e12  # NVIDIA H100 Tensor Core GPU datasheet, SXM: bf16 Tensor Core 1979 TFLOPS
                                  # with sparsity, i.e. 989 TFLOPS dense
H100_HBM_BYTES_PER_S = 3.35e12    # same datasheet, H100 SXM HBM3 3.35 TB/s
NVLINK4_ONE_WAY_BYTES_PER_S = 450e9  # same datasheet: NVLink 900 GB/s per GPU, bidirectional (18 links x 50 GB/s)
IB_NDR_ONE_WAY_BYTES_PER_S = 50e9    # InfiniBand NDR 400 Gb/s per port; DGX H100: one ConnectX-7 NDR port per GPU
FA3_PAPER_BF16_PEAK_FLOPS = 740e12   # Shah et al., FlashAttention-3, arXiv:2407.08608: bf16 forward up to
                                     # 740 TFLOPS (75% of H100) ...
FA2_ON_H100_UTILISATION = 0.35       # ... and, same paper: FlashAttention-2 reaches only 35% of H100

# --- Assumptions (not citations): achievable fractions of the peaks above.
GEMM_EFFICIENCY = 0.70            # cuBLAS bf16 on large, well-shaped GEMMs (K = 5120 or 13824): ~690 TFLOPS
ATTENTION_FLOPS = {               # attention kernel throughput, head_dim 128, non-causal, long sequences
    # tessera today: at::_scaled_dot_product_flash_attention (kernels/attention.cpp), PyTorch's FlashAttention-2
    "fa2": FA2_ON_H100_UTILISATION * H100_BF16_DENSE_FLOPS,
    # FlashAttention-3 at sequence 16k, head_dim 128 (below the paper's 740 peak; pytorch/benchmark's FA3 runs
    # measured ~620 TFLOPS at that shape)
    "fa3": 620e12,
}
HBM_EFFICIENCY = 0.80             # element-wise kernels stream at ~80% of HBM bandwidth
NVLINK_EFFICIENCY = 0.75          # NCCL all-to-all / send-recv over NVSwitch: ~340 GB/s per GPU, one way
IB_EFFICIENCY = 0.80              # GPUDirect RDMA send-recv: ~40 GB/s per GPU, one way
COLLECTIVE_LATENCY_S = {"nvlink": 15e-6, "ib": 25e-6}  # per collective call

# Memory-bound passes per transformer block, in units of one [local tokens, dim] bf16 tensor read or written,
# counted from tessera's unfused ATen sequence (src/models/wan/wan_transformer_block.cpp, wan_attention.cpp).
def elementwise_passes_per_block(dim, ffn_dim):
    return {
        "norm1 layer norm": 2, "adaLN modulate x*(1+scale)+shift, unfused": 4,
        "q, k RMS norm across heads": 8, "rotary on q and k, unfused": 12, "gated residual after self-attention": 5,
        "norm2 (cross-attention)": 2, "cross-attention q RMS norm": 4, "cross-attention residual": 3,
        "norm3 + modulate": 6, "FFN GELU on the ffn-wide hidden": 2 * ffn_dim / dim, "gated residual after FFN": 5,
    }


def communicator_copy_passes(ulysses, ring):
    """Copies around the collectives, same units: parallel/ulysses_attention.cpp stacks q, k, v, stages the
    moved send buffer and concatenates the received pieces (and the same, smaller, for the output); Ring pads the
    stacked k, v once and merges each hop's partial output into fp32 accumulators (fp32 counts double)."""
    passes = 0.0
    if ulysses > 1:
        passes += 3 * 2 * 3 + 2 * 2  # q, k, v: stack, stage, cat (read + write each); output: stage, cat
    if ring > 1:
        passes += 2 * 2 + 17 * ring + 3  # stack + pad k, v; per hop: cast, two weighted products, sum; final cast
    return passes


# --- Shapes.
def shard_sizes(total, parts):
    """parallel/shard_sizes.cpp: the first total % parts shards are one longer."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def latent_shape(height, width, frames):
    t, h, w = VAE_COMPRESSION
    return ((frames - 1) // t + 1, height // h, width // w)


def tokens_of(latent, patch):
    return math.prod(n // p for n, p in zip(latent, patch))


# --- FLOPs of one forward on one rank (multiply-add = 2 FLOPs).
def forward_flops(model, tokens, local_tokens, text_tokens, batch=1):
    d = model["num_attention_heads"] * model["attention_head_dim"]
    f, layers = model["ffn_dim"], model["num_layers"]
    patch_volume = math.prod(model["patch_size"])
    s, n, L = local_tokens, tokens, text_tokens
    per_block_gemm = (
        2 * s * d * 4 * d          # self-attention q, k, v, o
        + 2 * s * d * 2 * d        # cross-attention q, o
        + 2 * L * d * 2 * d        # cross-attention k, v of the text: every rank computes all of it
        + 2 * s * d * 2 * f)       # FFN up and down
    gemm = layers * per_block_gemm + 2 * s * model["in_channels"] * patch_volume * d \
        + 2 * s * d * model["out_channels"] * patch_volume \
        + 2 * L * (model["text_dim"] * d + d * d) \
        + 2 * (model["freq_dim"] * d + d * d + d * 6 * d)   # time embedding and its 6-way modulation projection
    # Self-attention: QK^T and PV over the whole sequence, 1/ranks of the (query, head) pairs on each rank.
    self_attention = layers * 4 * s * n * d
    cross_attention = layers * 4 * s * L * d
    return {"gemm": batch * gemm, "self_attention": batch * self_attention, "cross_attention": batch * cross_attention}


def block_parameter_count(model):
    d = model["num_attention_heads"] * model["attention_head_dim"]
    f = model["ffn_dim"]
    # 8 attention linears, 4 q/k RMS norm weights, FFN, norm2 affine, scale_shift_table
    return 8 * (d * d + d) + 2 * d * 2 + (d * f + f) + (f * d + d) + 2 * d + 6 * d


def parameter_count(model):
    d = model["num_attention_heads"] * model["attention_head_dim"]
    layers = model["num_layers"]
    patch_volume = math.prod(model["patch_size"])
    block = block_parameter_count(model)
    rest = (model["in_channels"] * patch_volume * d + d) + (model["text_dim"] * d + d) + (d * d + d) \
        + (model["freq_dim"] * d + d) + (d * d + d) + (d * 6 * d + 6 * d) \
        + (d * model["out_channels"] * patch_volume + model["out_channels"] * patch_volume) + 2 * d
    return layers * block + rest


# --- Bytes the communicator records per forward, per rank (Communicator::record in parallel/communicator.cpp).
def communication_per_forward(model, tokens, ulysses, ring, batch=1):
    """For every rank of one context-parallel group of ulysses x ring ranks: {operation: {calls, bytes_sent}},
    exactly as `tessera forward --stats` counts them."""
    heads, head_dim = model["num_attention_heads"], model["attention_head_dim"]
    layers, e = model["num_layers"], BYTES_PER_ELEMENT
    out_width = model["out_channels"] * math.prod(model["patch_size"])
    ranks = ulysses * ring
    shards = shard_sizes(tokens, ranks)             # context_parallel group key: ring * ulysses + ulysses index
    group_tokens = [sum(shards[j * ulysses:(j + 1) * ulysses]) for j in range(ring)]
    head_shards = shard_sizes(heads, ulysses)
    per_rank = []
    for position in range(ranks):
        j, i = divmod(position, ulysses)            # ring index, Ulysses index
        local, own_heads = shards[position], head_shards[i]
        ops = {}

        def add(name, calls, nbytes):
            entry = ops.setdefault(name, {"calls": 0, "bytes_sent": 0})
            entry["calls"] += calls
            entry["bytes_sent"] += nbytes

        if ulysses > 1:
            qkv = 3 * batch * local * (heads - own_heads) * head_dim * e  # stacked q, k, v minus the own heads
            output = batch * (group_tokens[j] - local) * own_heads * head_dim * e  # output minus own tokens
            add("all_to_all", 2 * layers, layers * (qkv + output))
        if ring > 1:
            longest = max(group_tokens)                                # k, v padded to the longest shard
            add("exchange", layers * (ring - 1), layers * (ring - 1) * 2 * batch * longest * own_heads * head_dim * e)
        if ranks > 1:  # the plan's proj_out gather; shard lengths come from the plan's splits (no size exchanges)
            add("all_gather", 1, batch * local * out_width * e * (ranks - 1))
        per_rank.append(ops)
    return per_rank


def total_bytes(ops, names=None):
    return sum(v["bytes_sent"] for k, v in ops.items() if names is None or k in names)


def total_calls(ops):
    return sum(v["calls"] for v in ops.values())


# --- The time model.
def step_time(model, tokens, text_tokens, ulysses, ring, cfg, interconnect_ring, interconnect_cfg, attention):
    """Seconds per denoising step with guidance (two branches), one rank's view: the slowest (longest) shard."""
    d = model["num_attention_heads"] * model["attention_head_dim"]
    layers, heads = model["num_layers"], model["num_attention_heads"]
    ranks = ulysses * ring
    local = max(shard_sizes(tokens, ranks))
    own_heads = max(shard_sizes(heads, ulysses))
    flops = forward_flops(model, tokens, local, text_tokens)
    # The slowest rank has the most heads and the longest shard; scale attention by its share of heads.
    head_imbalance = own_heads * ulysses / heads
    gemm_s = flops["gemm"] / (H100_BF16_DENSE_FLOPS * GEMM_EFFICIENCY)
    attention_rate = ATTENTION_FLOPS[attention]
    self_attention_s = flops["self_attention"] * head_imbalance / attention_rate
    cross_attention_s = flops["cross_attention"] / attention_rate
    passes = sum(elementwise_passes_per_block(d, model["ffn_dim"]).values()) + communicator_copy_passes(ulysses, ring)
    elementwise_s = layers * passes * local * d * BYTES_PER_ELEMENT / (H100_HBM_BYTES_PER_S * HBM_EFFICIENCY)

    ops = max(communication_per_forward(model, tokens, ulysses, ring), key=total_bytes) if ranks > 1 else {}
    nvlink = NVLINK4_ONE_WAY_BYTES_PER_S * NVLINK_EFFICIENCY
    ring_bandwidth = {"nvlink": nvlink, "ib": IB_NDR_ONE_WAY_BYTES_PER_S * IB_EFFICIENCY}[interconnect_ring]
    # Ulysses all-to-alls (inside a node) and the gathers are not overlapped with compute.
    # Gathers over the whole context-parallel group (the plan's proj_out gather) and the Ring's size exchanges run
    # at the speed of the Ring's link; the Ulysses collectives stay inside a node.
    group_link = interconnect_ring if ring > 1 else "nvlink"
    a2a_s = total_bytes(ops, {"all_to_all"}) / nvlink
    gather_s = total_bytes(ops, {"all_gather"}) / (ring_bandwidth if ring > 1 else nvlink)
    latency_s = 0.0
    if ranks > 1:
        ulysses_calls = 2 * layers if ulysses > 1 else 0  # 2 all-to-alls per layer
        group_calls = total_calls(ops) - ops.get("exchange", {"calls": 0})["calls"] - ulysses_calls
        latency_s = ulysses_calls * COLLECTIVE_LATENCY_S["nvlink"] + group_calls * COLLECTIVE_LATENCY_S[group_link]
    # Ring: hop h+1's k, v travel while hop h's attention runs; what the attention cannot hide is exposed.
    ring_exposed_s = 0.0
    if ring > 1:
        hop_bytes = ops["exchange"]["bytes_sent"] / ops["exchange"]["calls"]
        hop_comm_s = hop_bytes / ring_bandwidth + COLLECTIVE_LATENCY_S[interconnect_ring]
        hop_attention_s = self_attention_s / layers / ring
        ring_exposed_s = layers * (ring - 1) * max(0.0, hop_comm_s - hop_attention_s)
    communication_exposed_s = a2a_s + gather_s + latency_s + ring_exposed_s
    forward_s = gemm_s + self_attention_s + cross_attention_s + elementwise_s + communication_exposed_s

    forwards_per_step = 2 if cfg == 1 else 1     # CFG-parallel: each half of the ranks runs one branch
    combine_s = 0.0
    if cfg == 2:  # parallel/cfg_parallel.cpp: all_gather of the full prediction over the cfg pair
        latent_bytes = tokens * model["out_channels"] * math.prod(model["patch_size"]) * BYTES_PER_ELEMENT
        bandwidth = {"nvlink": nvlink, "ib": IB_NDR_ONE_WAY_BYTES_PER_S * IB_EFFICIENCY}[interconnect_cfg]
        combine_s = latent_bytes / bandwidth + COLLECTIVE_LATENCY_S[interconnect_cfg]
    step_s = forwards_per_step * forward_s + combine_s
    return {
        "forward_s": forward_s, "step_s": step_s, "forwards_per_step_per_rank": forwards_per_step,
        "per_forward": {"gemm_s": gemm_s, "self_attention_s": self_attention_s,
                        "cross_attention_s": cross_attention_s, "elementwise_s": elementwise_s,
                        "all_to_all_s": a2a_s, "all_gather_s": gather_s, "collective_latency_s": latency_s,
                        "ring_exposed_s": ring_exposed_s, "communication_exposed_s": communication_exposed_s},
        "cfg_combine_s": combine_s,
        "bytes_sent_per_forward_per_rank": total_bytes(ops),
        "collective_calls_per_forward_per_rank": total_calls(ops) + (1 if ranks > 1 else 0),
        "bytes_per_step_per_rank": forwards_per_step * total_bytes(ops)
        + (tokens * model["out_channels"] * math.prod(model["patch_size"]) * BYTES_PER_ELEMENT if cfg == 2 else 0),
    }


def sharded_weight_gathers(model, step, ranks, link="nvlink"):
    """--shard-weights: each of the generation's `ranks` keeps 1/ranks of the transformer's weights, and every forward
    all-gathers each block's just before it runs. Block b+1's gather runs on the communication stream while block b
    computes, so only what a block's compute cannot hide is exposed, plus the first block's gather and the
    non-block parameters'. Returns the bytes each rank receives per forward and the seconds it adds per forward."""
    if ranks == 1:
        return {"bytes_received_per_forward": 0, "exposed_s": 0.0}
    bandwidth = {"nvlink": NVLINK4_ONE_WAY_BYTES_PER_S * NVLINK_EFFICIENCY,
                 "ib": IB_NDR_ONE_WAY_BYTES_PER_S * IB_EFFICIENCY}[link]
    layers = model["num_layers"]
    share = (ranks - 1) / ranks  # a rank receives every share but its own
    block_bytes = block_parameter_count(model) * BYTES_PER_ELEMENT
    rest_bytes = parameter_count(model) * BYTES_PER_ELEMENT - layers * block_bytes
    gather_block_s = block_bytes * share / bandwidth + COLLECTIVE_LATENCY_S[link]
    per_forward = step["per_forward"]
    block_compute_s = (step["forward_s"] - per_forward["communication_exposed_s"]) / layers
    exposed_s = (layers - 1) * max(0.0, gather_block_s - block_compute_s) + gather_block_s \
        + rest_bytes * share / bandwidth + COLLECTIVE_LATENCY_S[link]
    return {"bytes_received_per_forward": (layers * block_bytes + rest_bytes) * share, "exposed_s": exposed_s,
            "gather_per_block_s": gather_block_s, "compute_per_block_s": block_compute_s}


# (GPUs, label, ulysses, ring, cfg, interconnect of the ring groups, of the cfg pair). Ranks are laid out
# Ulysses fastest, then Ring, then CFG (parallel/parallel_config.cpp mesh_coordinates), so with 8 ranks per
# node Ulysses stays inside a node and Ring (or the CFG pair) crosses it.
LAYOUTS = [
    (1, "single GPU", 1, 1, 1, "nvlink", "nvlink"),
    (2, "Ulysses 2", 2, 1, 1, "nvlink", "nvlink"),
    (2, "CFG 2", 1, 1, 2, "nvlink", "nvlink"),
    (4, "Ulysses 4", 4, 1, 1, "nvlink", "nvlink"),
    (4, "CFG 2 x Ulysses 2", 2, 1, 2, "nvlink", "nvlink"),
    (8, "Ulysses 8", 8, 1, 1, "nvlink", "nvlink"),
    (8, "CFG 2 x Ulysses 4", 4, 1, 2, "nvlink", "nvlink"),
    (16, "2x8: Ulysses 8 x Ring 2 (IB)", 8, 2, 1, "ib", "ib"),
    (16, "2x8: CFG 2 (IB) x Ulysses 8", 8, 1, 2, "nvlink", "ib"),
]


def project():
    rows = []
    for resolution, (height, width) in RESOLUTIONS.items():
        latent = latent_shape(height, width, FRAMES)
        tokens = tokens_of(latent, WAN14B["patch_size"])
        single = {}
        for gpus, label, u, r, c, ring_link, cfg_link in LAYOUTS:
            row = {"resolution": resolution, "pixels": [height, width], "frames": FRAMES, "latent": list(latent),
                   "tokens": tokens, "gpus": gpus, "layout": label, "ulysses": u, "ring": r, "cfg": c,
                   "cfg_parallel": c == 2}
            for attention in ATTENTION_FLOPS:
                t = step_time(WAN14B, tokens, TEXT_TOKENS, u, r, c, ring_link, cfg_link, attention)
                if gpus == 1:
                    single[attention] = t["step_s"]
                t["speedup_vs_1_gpu"] = single[attention] / t["step_s"]
                t["efficiency"] = t["speedup_vs_1_gpu"] / gpus
                # The gathers cross the slowest link the generation spans.
                gathers = sharded_weight_gathers(WAN14B, t, gpus, "ib" if "IB" in label else "nvlink")
                gathers["step_s"] = t["step_s"] + t["forwards_per_step_per_rank"] * gathers["exposed_s"]
                t["sharded_weights"] = gathers
                row[attention] = t
            rows.append(row)
    return rows


# --- The check against measured bytes.
SMALL = dict(patch_size=(1, 2, 2), num_attention_heads=4, attention_head_dim=16, in_channels=16, out_channels=16,
             text_dim=32, freq_dim=16, ffn_dim=128, num_layers=2, cross_attn_norm=True,
             qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=64)
SMALL_LATENT = (1, 16, 5, 14, 18)  # 5 x 7 x 9 = 315 tokens: odd, so shards are uneven
CHECKS = [(2, 1), (1, 2), (2, 2)]  # (ulysses, ring)
STATS_LINE = re.compile(r"rank (\d+): total (\d+) B;(.*)")
STATS_OP = re.compile(r"(\w+) (\d+) B in (\d+) calls")


def parse_stats(text):
    ranks = {}
    for line in text.splitlines():
        match = STATS_LINE.search(line)
        if match:
            ranks[int(match.group(1))] = {op: {"calls": int(calls), "bytes_sent": int(nbytes)}
                                          for op, nbytes, calls in STATS_OP.findall(match.group(3))}
    return [ranks[r] for r in sorted(ranks)]


def measure(tessera, launcher):
    import torch
    from diffusers import WanTransformer3DModel
    from safetensors.torch import save_file

    with torch.device("meta"):
        diffusers_parameters = sum(p.numel() for p in WanTransformer3DModel(**{
            k: v for k, v in WAN14B.items()}).parameters())
    small_model = {k: SMALL[k] for k in WAN14B}
    tokens = tokens_of(SMALL_LATENT[2:], SMALL["patch_size"])
    checks = []
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = pathlib.Path(scratch) / "small"
        torch.manual_seed(0)
        WanTransformer3DModel(**SMALL).save_pretrained(model_dir)
        inputs = model_dir / "inputs.safetensors"
        save_file({"hidden_states": torch.randn(*SMALL_LATENT), "timestep": torch.tensor([700.0]),
                   "encoder_hidden_states": torch.randn(1, 24, SMALL["text_dim"])}, str(inputs))
        for ulysses, ring in CHECKS:
            ranks = ulysses * ring
            command = ["nice", "-n", "10", launcher, "-np", str(ranks), tessera, "forward", "--model", str(model_dir),
                       "--inputs", str(inputs), "--output", str(pathlib.Path(scratch) / "out.safetensors"),
                       "--ulysses", str(ulysses), "--ring", str(ring), "--dtype", "bf16", "--threads", "1",
                       "--stats", "--log-level", "warn"]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            measured = parse_stats(done.stdout + done.stderr)
            predicted = communication_per_forward(small_model, tokens, ulysses, ring)
            checks.append({"ulysses": ulysses, "ring": ring, "ranks": ranks, "tokens": tokens,
                           "command": " ".join(command).replace(str(model_dir), "SMALL_MODEL_DIR").replace(scratch, "SCRATCH"),
                           "measured_per_rank": measured, "formula_per_rank": predicted,
                           "exact_match": measured == predicted})
    return {"small_config": {**SMALL, "latent": list(SMALL_LATENT), "text_tokens": 24, "dtype": "bf16"},
            "model_dir": "written by diffusers' save_pretrained (seed 0) into a temporary directory by this script",
            "checks": checks, "wan14b_parameters": {"formula": parameter_count(WAN14B),
                                                     "diffusers_meta_init": diffusers_parameters}}


def markdown(rows):
    lines = ["| res | GPUs | layout | bytes sent / rank / step | comm exposed / fwd | s/step (FA2, tessera today) "
             "| speedup | s/step (FA3) | speedup |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        fa2, fa3 = row["fa2"], row["fa3"]
        lines.append(f"| {row['resolution']} | {row['gpus']} | {row['layout']} | "
                     f"{fa2['bytes_per_step_per_rank'] / 1e9:.2f} GB | "
                     f"{fa2['per_forward']['communication_exposed_s'] * 1e3:.1f} ms | {fa2['step_s']:.2f} | "
                     f"{fa2['speedup_vs_1_gpu']:.2f}x | {fa3['step_s']:.2f} | {fa3['speedup_vs_1_gpu']:.2f}x |")
    return "\n".join(lines)


def sharded_markdown(rows):
    lines = ["| res | GPUs | layout | weights per rank (bf16) | gathered per rank per forward | gather / block vs "
             "compute / block (FA3) | s/step FA3 | sharded | cost |", "|---|---|---|---|---|---|---|---|---|"]
    weights = parameter_count(WAN14B) * BYTES_PER_ELEMENT
    for row in rows:
        t = row["fa3"]
        g = t["sharded_weights"]
        if row["gpus"] == 1:
            continue
        lines.append(f"| {row['resolution']} | {row['gpus']} | {row['layout']} | {weights / row['gpus'] / 1e9:.1f} GB "
                     f"(whole: {weights / 1e9:.1f}) | {g['bytes_received_per_forward'] / 1e9:.1f} GB | "
                     f"{g['gather_per_block_s'] * 1e3:.2f} ms vs {g['compute_per_block_s'] * 1e3:.1f} ms | "
                     f"{t['step_s']:.2f} | {g['step_s']:.2f} | +{(g['step_s'] / t['step_s'] - 1) * 100:.1f}% |")
    return "\n".join(lines)


# Measured cache settings (the embedded model's study: benchmarks/results/cache_study_embedded_model.json) whose
# computed share of the blocks prices a cached step: the skipped blocks' compute and communication are saved.
CACHE_STUDY = ROOT / "benchmarks" / "results" / "cache_study_embedded_model.json"


def cached_markdown(rows):
    study = json.loads(CACHE_STUDY.read_text())["results"]
    settings = [r for r in study if r["cache"] != "none" and r["psnr_db"] is not None and r["judge_rate"] == 1.0
                and not r["cache"].startswith("pab")]  # PAB skips attention only: its share is not of blocks
    header = "| res | GPUs | layout | no cache (FA2 / FA3) | " + " | ".join(
        f"{r['cache']} ({r['computed_share']:.0%} computed, {r['psnr_db']:.1f} dB)" for r in settings) + " |"
    lines = [header, "|---|---|---|---|" + "---|" * len(settings)]
    for row in rows:
        if row["gpus"] not in (1, 2, 4, 8) or row["layout"].startswith("Ulysses"):
            continue
        fa2, fa3 = row["fa2"]["step_s"], row["fa3"]["step_s"]
        cells = " | ".join(f"{fa2 * r['computed_share']:.2f} / {fa3 * r['computed_share']:.2f}" for r in settings)
        lines.append(f"| {row['resolution']} | {row['gpus']} | {row['layout']} | {fa2:.2f} / {fa3:.2f} | {cells} |")
    return "\n".join(lines)


def breakdown(rows):
    lines = ["| res | GPUs | layout | GEMM | self-attn (FA2) | cross-attn | element-wise | all-to-all | gathers "
             "+ latency | Ring exposed | forward (FA2) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        p = row["fa2"]["per_forward"]
        ms = lambda x: f"{x * 1e3:.0f}"
        lines.append(f"| {row['resolution']} | {row['gpus']} | {row['layout']} | {ms(p['gemm_s'])} | "
                     f"{ms(p['self_attention_s'])} | {ms(p['cross_attention_s'])} | {ms(p['elementwise_s'])} | "
                     f"{p['all_to_all_s'] * 1e3:.1f} | {(p['all_gather_s'] + p['collective_latency_s']) * 1e3:.1f} | "
                     f"{p['ring_exposed_s'] * 1e3:.1f} | {ms(row['fa2']['forward_s'])} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tessera", default=str(ROOT / "build" / "bin" / "tessera"))
    parser.add_argument("--launcher", default=str(ROOT / "launch" / "tessera-run"))
    parser.add_argument("--skip-measure", action="store_true", help="keep the measured section of --out as it is")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "projection_wan14b.json"))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    if args.skip_measure:
        measured = json.loads(out.read_text())["communication_check"] if out.exists() else None
    else:
        measured = measure(args.tessera, args.launcher)
    rows = project()
    model_flops = {}
    for resolution, (height, width) in RESOLUTIONS.items():
        tokens = tokens_of(latent_shape(height, width, FRAMES), WAN14B["patch_size"])
        model_flops[resolution] = {k: v for k, v in forward_flops(WAN14B, tokens, tokens, TEXT_TOKENS).items()}
        model_flops[resolution]["total"] = sum(model_flops[resolution].values())
    document = {
        "kind": "projection (a model, not a measurement)", "model": "Wan2.1-T2V-14B transformer", "config": WAN14B,
        "text_tokens": TEXT_TOKENS, "vae_compression": VAE_COMPRESSION, "frames": FRAMES, "dtype": "bf16",
        "excluded": "text encoder, VAE decode, scheduler",
        "flops_per_forward_single_gpu": model_flops,
        "constants": {"H100_BF16_DENSE_FLOPS": H100_BF16_DENSE_FLOPS, "H100_HBM_BYTES_PER_S": H100_HBM_BYTES_PER_S,
                      "NVLINK4_ONE_WAY_BYTES_PER_S": NVLINK4_ONE_WAY_BYTES_PER_S,
                      "IB_NDR_ONE_WAY_BYTES_PER_S": IB_NDR_ONE_WAY_BYTES_PER_S,
                      "FA3_PAPER_BF16_PEAK_FLOPS": FA3_PAPER_BF16_PEAK_FLOPS,
                      "FA2_ON_H100_UTILISATION": FA2_ON_H100_UTILISATION},
        "assumptions": {"GEMM_EFFICIENCY": GEMM_EFFICIENCY, "ATTENTION_FLOPS": ATTENTION_FLOPS,
                        "HBM_EFFICIENCY": HBM_EFFICIENCY, "NVLINK_EFFICIENCY": NVLINK_EFFICIENCY,
                        "IB_EFFICIENCY": IB_EFFICIENCY, "COLLECTIVE_LATENCY_S": COLLECTIVE_LATENCY_S,
                        "elementwise_passes_per_block": elementwise_passes_per_block(
                            WAN14B["num_attention_heads"] * WAN14B["attention_head_dim"], WAN14B["ffn_dim"]),
                        "overlap": "Ring exchanges overlap the previous hop's attention; Ulysses all-to-alls, "
                                   "gathers and the CFG combine do not overlap compute",
                        "guidance": "every step runs both branches: two forwards per rank without CFG-parallel, "
                                    "one with it"},
        "peers_as_quoted": {"LightX2V, Wan2.1-14B 480p, 8xH100, with CFG": 0.75,
                            "xDiT, Wan2.1-14B 480p, 8xH100, with CFG": 2.70},
        "communication_check": measured, "rows": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    if measured:
        print(f"parameters: formula {measured['wan14b_parameters']['formula']:,}, diffusers "
              f"{measured['wan14b_parameters']['diffusers_meta_init']:,}")
        for check in measured["checks"]:
            print(f"ulysses {check['ulysses']} ring {check['ring']}: measured bytes per rank "
                  f"{[total_bytes(r) for r in check['measured_per_rank']]}, formula "
                  f"{[total_bytes(r) for r in check['formula_per_rank']]}, exact match {check['exact_match']}")
    for resolution, flops in model_flops.items():
        print(f"{resolution}: {flops['total'] / 1e15:.3f} PFLOP per forward "
              f"(GEMM {flops['gemm'] / 1e15:.3f}, self-attention {flops['self_attention'] / 1e15:.3f}, "
              f"cross-attention {flops['cross_attention'] / 1e15:.3f})")
    print(markdown(rows))
    print()
    print(breakdown(rows))
    print()
    print(sharded_markdown(rows))
    print()
    print(cached_markdown(rows))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
