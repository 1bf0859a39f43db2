#!/usr/bin/env python3
"""Writes a WanPipeline folder whose text encoder has UMT5-XXL's widths (d_model 4096, 64 heads of 64, d_ff 10240,
a 256,384-token vocabulary; --layers of its 24, random bf16 weights) beside the tiny fixture's tokenizer, scheduler,
VAE and a tiny transformer that reads 4096-wide text, so that the text encoder dominates a rank's memory. For
measuring what encoding the prompts once per generation saves (benchmarks/text_encode_once.sh).

    ~/.cache/tessera/venv/bin/python benchmarks/make_wide_text_folder.py --out /tmp/wan_wide_text --layers 6
"""
import argparse
import json
import pathlib
import shutil

import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

TINY = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/wan_pipeline/pipeline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for part in ["scheduler", "tokenizer", "vae", "model_index.json"]:
        target = out / part
        if not target.exists():
            target.symlink_to(TINY / part)

    config = json.loads((TINY / "text_encoder/config.json").read_text())
    config.update(d_model=4096, d_kv=64, d_ff=10240, num_heads=64, num_layers=args.layers,
                  num_decoder_layers=args.layers, vocab_size=256384, relative_attention_max_distance=128,
                  dtype="bfloat16")
    with torch.device("meta"):
        shapes = {name: tuple(t.shape) for name, t in
                  UMT5EncoderModel(UMT5Config(**config)).state_dict().items()}
    text_dir = out / "text_encoder"
    text_dir.mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    # One tensor of the tied pair, as transformers saves it.
    tensors = {name: (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
               for name, shape in shapes.items() if name != "encoder.embed_tokens.weight"}
    save_file(tensors, str(text_dir / "model.safetensors"), metadata={"format": "pt"})
    (text_dir / "config.json").write_text(json.dumps(config, indent=2))

    transformer_config = json.loads((TINY / "transformer/config.json").read_text())
    transformer_config = {k: v for k, v in transformer_config.items() if not k.startswith("_")}
    transformer_config["text_dim"] = 4096
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**transformer_config)
    shutil.rmtree(out / "transformer", ignore_errors=True)
    transformer.save_pretrained(out / "transformer")
    total = sum(t.nbytes for t in tensors.values())
    print(f"{out}: text encoder {len(tensors)} tensors, {total / 2**30:.2f} GiB bf16")


if __name__ == "__main__":
    main()
