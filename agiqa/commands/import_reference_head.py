"""`agiqa import-reference-head`: turn an M3-AGIQA Lightning head into an agiqa head folder."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", required=True, help="Reference .ckpt (or a .safetensors of its state_dict).")
    p.add_argument("--model", required=True, help="Base model folder whose LM head W was trained on.")
    p.add_argument("--aspect", required=True, help="quality, correspondence or authenticity.")
    p.add_argument("--output", required=True, help="Head folder to write (e.g. MODEL/heads/quality).")
    p.add_argument("--max-length", type=int,
                   help="Tokens the head was trained on (the reference's model_max_length; also the xLSTM context). "
                        "Default: the checkpoint's, else the released file's (768 for AIGIQA-20K, 512 otherwise).")
    p.add_argument("--max-slices", type=int,
                   help="Image slices of its scoring input (default: the checkpoint's, else the released file's: "
                        "4 for AIGIQA-20K, 9 otherwise).")
    p.add_argument("--pooling", default="mean", choices=["mean", "max", "last"])


def run(args) -> int:
    from agiqa.extras import require_command

    require_command("import-reference-head")
    from agiqa.aspects import check_aspects
    from agiqa.errors import UserError
    from agiqa.model.checkpoint import load_lm_head
    from agiqa.model.reference_import import (
        import_reference_head,
        read_hparams,
        read_state_dict,
        scoring_inputs,
    )

    try:
        check_aspects([args.aspect])
        state = read_state_dict(args.checkpoint)
        max_length, max_slices = scoring_inputs(args.checkpoint, read_hparams(args.checkpoint), args.max_length,
                                                args.max_slices)
        lm_w, lm_b = load_lm_head(args.model)
        head = import_reference_head(state, lm_w, lm_b, context_length=max_length, pooling=args.pooling,
                                     aspect=args.aspect, max_length=max_length, max_slices=max_slices,
                                     notes={"checkpoint": str(args.checkpoint)})
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        raise UserError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    head.save(args.output)
    print(f"wrote {args.output} (embedding {head.config.embedding_dim}, blocks {head.config.num_blocks}, "
          f"sLSTM at {head.config.slstm_at}, max_length {head.config.max_length}, "
          f"{head.config.max_slice_nums} slices)")
    return 0
