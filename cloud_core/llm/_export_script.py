"""GGUF -> transformers (fixed tokenizer) -> ONNX fp32 with optimum.

Runs inside the isolated export environment (torch, transformers, optimum), never in the
serving process; it imports nothing of the project. Usage: python _export_script.py GGUF OUT HF_OUT
"""

import json
import shutil
import sys
from pathlib import Path


def step(message: str) -> None:
    print(f"STEP {message}", flush=True)


def main() -> None:
    gguf_path, out, hf_out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(max(1, torch.get_num_threads()))
    step("loading the GGUF with transformers")
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The GGUF converter gets two things wrong: eos is <|im_start|> (id 1) while the model ends turns
    # with <|im_end|> (id 2), and it prepends a bos so every chat prompt starts with <|im_start|> twice.
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|im_end|>"
    tokenizer.add_bos_token = False
    if hasattr(tokenizer, "_tokenizer") and tokenizer._tokenizer.post_processor is not None:
        from tokenizers import processors

        tokenizer._tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = model.generation_config.eos_token_id
    model.config.eos_token_id = model.generation_config.eos_token_id
    hf_out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(hf_out)
    tokenizer.save_pretrained(hf_out)
    check = tokenizer("<|im_start|>user\nhi<|im_end|>\n")["input_ids"]
    if check[0] != 1 or check.count(1) != 1:
        raise SystemExit(f"tokenizer still adds a bos: {check[:5]}")

    step("exporting to ONNX with optimum (text-generation-with-past)")
    from optimum.exporters.onnx import main_export

    main_export(str(hf_out), output=str(out), task="text-generation-with-past", device="cpu")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json",
                 "generation_config.json"):
        if (hf_out / name).exists():
            shutil.copyfile(hf_out / name, out / name)
    config = json.loads((hf_out / "config.json").read_text())
    (out / "export.json").write_text(json.dumps({
        "num_hidden_layers": config["num_hidden_layers"],
        "num_key_value_heads": config["num_key_value_heads"],
        "head_dim": config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"],
        "max_position_embeddings": config["max_position_embeddings"],
        "eos_token_id": model.generation_config.eos_token_id,
        "vocab_size": config["vocab_size"],
    }, indent=2))
    step("done")


if __name__ == "__main__":
    main()
