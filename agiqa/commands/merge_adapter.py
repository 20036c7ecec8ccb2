"""`agiqa merge-adapter`: fold a PEFT adapter into its base model, as a checkpoint of its own.

For adapters vLLM cannot serve as LoRA: the reference's adapters also fully train the vision
tower, resampler and embeddings (`modules_to_save`). The merged folder is a complete model
(weights, processor, tokenizer, chat template); score its aspect with `--model MERGED --aspects
<aspect> --heads HEADS` (one run per merged aspect).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="Base model folder.")
    p.add_argument("--adapter", required=True, help="PEFT adapter folder.")
    p.add_argument("--output", required=True, help="Folder for the merged checkpoint.")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--copy-heads", help="Optional heads folder to copy to OUTPUT/heads.")


def run(args) -> int:
    from agiqa.extras import require_command

    require_command("merge-adapter")
    from pathlib import Path

    from agiqa.engines.merge import merge_adapter
    from agiqa.errors import UserError
    from agiqa.model.weights_files import refuse_pickled

    for what, path in (("--model", Path(args.model) / "config.json"), ("--adapter",
                                                                       Path(args.adapter) / "adapter_config.json")):
        if not path.is_file():
            raise UserError(f"{what}: {path} not found")
    refuse_pickled(args.model, "--model")
    refuse_pickled(args.adapter, "--adapter")
    merge_adapter(args.model, args.adapter, args.output, args.dtype, args.copy_heads)
    print(f"wrote merged checkpoint to {args.output}")
    return 0
