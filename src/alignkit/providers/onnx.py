"""A faster generation path on CPU: the same checkpoint run by ONNX Runtime GenAI.

transformers decodes a 135M model at batch 1 at the speed its Python loop and float32 weights allow;
ONNX Runtime GenAI (prebuilt wheels, the ``fast`` extra) runs the same decoder as one fused graph with
its own KV cache. :func:`ensure_onnx` converts a local transformers folder once (its builder, in a
subprocess; about 20 s for the embedded model) into ``<folder>.onnx-<precision>`` next to it, and
:class:`OnnxDecoder` generates from token ids.

Precisions: ``fp32`` computes what the transformers model computes (greedy answers checked identical in
tests and bench/RESULTS.md); ``int4`` (4-bit weights in blocks of 32) is faster again but changes answers
(a different model, measured in bench/RESULTS.md), so it is opt-in.

The converted graph is built from the folder on disk: weights trained in memory afterwards are not in it.
Use it to serve and evaluate a saved model; train on ``HFModel.model``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError

PRECISIONS = ("fp32", "int4")
STAMP = "alignkit-onnx.json"
BUILD_TIMEOUT_S = 1800


def import_genai() -> Any:
    """``onnxruntime_genai``, or an error that names the extra to install."""
    try:
        import onnxruntime_genai
    except ImportError as e:
        raise ConfigError(
            "runtime='onnx' needs ONNX Runtime GenAI: pip install 'alignkit[fast]' "
            "(or pass runtime='torch' to generate with transformers)"
        ) from e
    return onnxruntime_genai


def _fingerprint(folder: Path) -> str:
    """What the conversion depends on: the weight and config files' names, sizes and times."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".jinja"):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def onnx_dir(folder: Path, precision: str) -> Path:
    """Where the converted model of ``folder`` lives."""
    return folder.parent / f"{folder.name}.onnx-{precision}"


def ensure_onnx(folder: Path, precision: str = "fp32") -> Path:
    """The converted model of a local transformers folder, built on first use (temp name, then rename)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown ONNX precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if not (folder / "config.json").exists():
        raise ConfigError(f"runtime='onnx' converts a local transformers folder; {folder} has no config.json")
    import_genai()
    out, stamp = onnx_dir(folder, precision), {"source": _fingerprint(folder), "precision": precision}
    if _stamp(out) == stamp:
        return out
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=folder.parent))
    try:
        _build(folder, tmp, precision)
        _pad_outside_prompts(tmp / "genai_config.json")
        (tmp / STAMP).write_text(json.dumps(stamp))
        if out.exists() and _stamp(out) != stamp:
            shutil.rmtree(out, ignore_errors=True)  # a stale conversion of an earlier checkpoint
        try:
            os.replace(tmp, out)
        except OSError:
            if _stamp(out) != stamp:
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same conversion first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _stamp(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _build(folder: Path, out: Path, precision: str) -> None:
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(folder), "-o", str(out)]
    cmd += ["-p", precision, "-e", "cpu", "-c", str(out / ".cache")]
    try:
        # our own interpreter and a fixed module; the folder is an argument, never a shell string
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as e:
        raise ConfigError(f"converting {folder} to ONNX took over {BUILD_TIMEOUT_S} s; use runtime='torch'") from e
    if done.returncode != 0 or not (out / "genai_config.json").exists():
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-5:]
        raise ConfigError(
            f"could not convert {folder} to ONNX (exit {done.returncode}): {' | '.join(tail)}. "
            "The builder supports the common decoder families (Llama, Mistral, Qwen, Phi, Gemma); "
            "use runtime='torch' for others."
        )
    shutil.rmtree(out / ".cache", ignore_errors=True)


def _pad_outside_prompts(config_path: Path) -> None:
    """The builder pads with the EOS id; chat prompts contain it (``<|im_end|>`` ends each turn), and
    the runtime masks every pad id it sees. Batch 1 never pads, but a shared id is a trap: use 0 when 0
    is not EOS, else leave it."""
    cfg = json.loads(config_path.read_text())
    model = cfg.get("model", {})
    eos = model.get("eos_token_id")
    eos_ids = set(eos) if isinstance(eos, list) else {eos}
    if model.get("pad_token_id") in eos_ids and 0 not in eos_ids:
        model["pad_token_id"] = 0
        config_path.write_text(json.dumps(cfg, indent=1))


class OnnxDecoder:
    """One converted model; generates a batch of sequences from token ids (right-padded, as the runtime
    expects: it tracks each row's own length)."""

    def __init__(self, path: Path) -> None:
        self.og = import_genai()
        self.path = path
        self.pad = int(json.loads((path / "genai_config.json").read_text())["model"].get("pad_token_id", 0))
        try:  # a graph that loads may still not run (say, a head size the kernels do not take): find out now
            self.model = self.og.Model(str(path))
            self.generate([[0]], max_new=1, eos_ids=())
        except RuntimeError as e:
            raise ConfigError(
                f"ONNX Runtime cannot run the model converted at {path}: {e}. Use runtime='torch'."
            ) from e

    def generate(
        self,
        batch: Sequence[Sequence[int]],
        *,
        max_new: int,
        eos_ids: Sequence[int],
        greedy: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Callable[[list[int]], bool] | None = None,
    ) -> list[list[int]]:
        """Per prompt, the new token ids, ending with the EOS id when the model ended (as transformers
        returns them); ``stop(tokens so far)`` ends a row early (stop strings)."""
        import numpy as np

        width = max(len(ids) for ids in batch)
        params = self.og.GeneratorParams(self.model)
        options: dict[str, Any] = {"max_length": width + max_new, "do_sample": not greedy, "batch_size": len(batch)}
        if not greedy:
            options.update(temperature=max(temperature, 1e-5), top_p=top_p, top_k=0)
            if seed is not None:
                options["random_seed"] = int(seed)
        params.set_search_options(**options)
        gen = self.og.Generator(self.model, params)
        gen.append_tokens(np.array([[*ids, *[self.pad] * (width - len(ids))] for ids in batch], dtype=np.int32))
        new: list[list[int]] = [[] for _ in batch]
        running, ends = set(range(len(batch))), set(eos_ids)
        for _ in range(max_new):
            if not running or gen.is_done():
                break
            gen.generate_next_token()
            tokens = gen.get_next_tokens()
            for row in list(running):
                tok = int(tokens[row])
                new[row].append(tok)
                if tok in ends or (stop is not None and stop(new[row])):
                    running.discard(row)
        return new
