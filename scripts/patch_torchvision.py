"""Make a CUDA-built torchvision importable beside torch+cpu (CPU-only machines only).

PyPI ships only the CUDA build of recent torchvision. Its compiled ops need libtorch_cuda, so they
fail to load, and `import torchvision` then dies in `_meta_registrations.py` registering fake
kernels for ops that do not exist. We wrap those decorators so they apply only when the ops loaded.
Idempotent; a no-op when torchvision is absent or already importable.
"""

import importlib.util
import pathlib
import re
import subprocess
import sys

GUARD = "(torch.library.register_fake({op}) if torchvision.extension._has_ops() else (lambda f: f))"


def main() -> int:
    ok = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True).returncode == 0
    if ok:
        return 0
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return 0
    path = pathlib.Path(spec.origin).parent / "_meta_registrations.py"
    text = path.read_text()
    patched = re.sub(
        r'^@torch\.library\.register_fake\(("torchvision::[a-z_0-9]+")\)$',
        lambda m: "@" + GUARD.format(op=m.group(1)),
        text,
        flags=re.M,
    )
    path.write_text(patched)
    res = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    if res.returncode != 0:
        print("[install] torchvision still fails to import:\n" + res.stderr[-2000:], file=sys.stderr)
        return 1
    print(f"[install] patched {path} so torchvision imports without its CUDA ops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
