"""`agiqa train-head`: one head per aspect on MOS labels, from cached features of a frozen model.

Each method trains its own heads: the command runs the function its config names in `train_entry`
(M3-AGIQA: `agiqa.training.m3_train_head`, M3 heads over the MLLM's per-token states; CLIP-AGIQA:
`agiqa.training.clip_train_head`, prompt learner + regressor over a frozen CLIP folder).

Training rows' descriptions come from the teacher (`<aspect>_teacher` column), as in the reference;
validation rows' (which pick the best epoch) are the adapter's own, generated here or given in a
column (the reference's `response_0`), never the teacher's: the teacher saw the MOS, and scoring
feeds the head the adapter's descriptions. Input: Parquet shards with `image`,
`prompt`, `<aspect>_mos` and `<aspect>_teacher` (e.g. from `agiqa make-demo-data`).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    from agiqa.commands.method_flags import add_import_argument, method_choice_help
    from agiqa.methods.registry import DEFAULT_METHOD

    p.add_argument("--method", default=DEFAULT_METHOD,
                   help=f"Whose heads: {method_choice_help('train_entry')} (each method's `train_entry`).")
    add_import_argument(p)
    p.add_argument("--data", required=True, help="Folder of Parquet shards with image, prompt, <aspect>_mos, "
                                                 "<aspect>_teacher.")
    p.add_argument("--model", required=True, help="Model folder (adapters in MODEL/adapters unless --adapters).")
    p.add_argument("--adapters", help="Per-aspect adapters folder.")
    p.add_argument("--init-heads", help="Heads whose config (and weights) to start from (default MODEL/heads when it "
                                        "exists, else fresh heads sized from MODEL's config).")
    p.add_argument("--head-dim", type=int, default=512,
                   help="Width of fresh heads (the reference's 512); heads loaded from --init-heads keep theirs.")
    p.add_argument("--output", required=True, help="Folder to write <aspect>/ heads to.")
    p.add_argument("--aspects", default="quality,correspondence,authenticity")
    p.add_argument("--epochs", type=int, help="Default 10 (m3-agiqa), 100 (clip-agiqa, the paper's).")
    p.add_argument("--lr", type=float, help="Default 1e-3 (m3-agiqa, AdamW), 0.002 (clip-agiqa, SGD + cosine).")
    p.add_argument("--batch-size", type=int, help="Default 8 (m3-agiqa), 32 (clip-agiqa).")
    p.add_argument("--image-only", action="store_true",
                   help="clip-agiqa: the paper's image-only head for every aspect (correspondence too).")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-length", type=int, default=512)
    from agiqa.training.rows import image_limits_args

    image_limits_args(p)
    p.add_argument("--max-new-tokens", type=int, default=128,
                   help="Round-1 description length cap, as `agiqa score --max-new-tokens` (validation descriptions "
                        "are generated with it; long prompts are cut to leave it room, as scoring cuts them).")
    p.add_argument("--repetition-penalty", type=float,
                   help="Decoding of the validation descriptions, as `agiqa score --repetition-penalty` (default: the "
                        "model family's).")
    p.add_argument("--val-descriptions", choices=["auto", "generate", "column"], default="auto",
                   help="What the validation rows' assistant turn holds when the best epoch is picked: the adapter's "
                        "own descriptions, generated now (generate) or given in --val-column (column; the reference's "
                        "response_0); auto = the column when every validation row has one, else generate. Never the "
                        "teacher's (it saw the MOS).")
    p.add_argument("--val-column", default="{aspect}_response",
                   help="Column of the adapter's own descriptions for --val-descriptions column/auto "
                        "(prepare-data --format records keeps response_0 as <aspect>_response).")
    p.add_argument("--prompt-set", default="m3agiqa")
    p.add_argument("--cache", help="Feature cache folder (default OUTPUT/.feature-cache).")
    p.add_argument("--no-description", action="store_true",
                   help="Empty assistant turn (round 1 skipped): the ablation; score with --no-describe.")


def run(args) -> int:
    from agiqa.extras import require_command
    from agiqa.methods.registry import method_entry

    entry = method_entry(args.method, "train_entry", "train-head")
    require_command("train-head")
    return entry(args)
