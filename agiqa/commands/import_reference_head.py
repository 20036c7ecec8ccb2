"""`agiqa import-reference-head`: turn an M3-AGIQA Lightning head into an agiqa head folder."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", required=True, help="Reference .ckpt (or a .safetensors of its state_dict).")
    p.add_argument("--model", required=True, help="Base model folder whose LM head W was trained on.")
    p.add_argument("--aspect", required=True, help="quality, correspondence or authenticity.")
    p.add_argument("--output", required=True, help="Head folder to write (e.g. MODEL/heads/quality).")
    p.add_argument("--context-length", type=int, default=512, help="The reference's model_max_length.")
    p.add_argument("--pooling", default="mean", choices=["mean", "max", "last"])


def run(args) -> int:
    from agiqa.aspects import check_aspects
    from agiqa.errors import UserError
    from agiqa.model.checkpoint import load_lm_head
    from agiqa.model.reference_import import import_reference_head, read_state_dict

    try:
        check_aspects([args.aspect])
        state = read_state_dict(args.checkpoint)
        lm_w, lm_b = load_lm_head(args.model)
        head = import_reference_head(state, lm_w, lm_b, context_length=args.context_length, pooling=args.pooling,
                                     aspect=args.aspect, notes={"checkpoint": str(args.checkpoint)})
    except (ValueError, KeyError, FileNotFoundError) as e:
        raise UserError(str(e)) from None
    head.save(args.output)
    print(f"wrote {args.output} (embedding {head.config.embedding_dim}, blocks {head.config.num_blocks}, "
          f"sLSTM at {head.config.slstm_at})")
    return 0
