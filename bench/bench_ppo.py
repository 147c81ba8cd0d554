"""PPO: alignkit's PPOTrainer against trl 1.12's PPOTrainer (trl's last release with PPO), in one run.

Both trainers start from the same weights and train on the same prompts with the same reward model and
the same hyper-parameters (rollout batch, mini-batch, PPO epochs, learning rate, fixed KL coefficient,
temperature, response length, clip ranges, GAE γ/λ, value-loss weight, seed). Measured per side:

  * samples/s: rollouts per second over the whole training loop (generation, reward, PPO update);
    model loading and trainer construction are timed apart;
  * reward at matched KL: both log, per step, the mean reward-model score of the batch and the KL to the
    reference as trl computes it (k1: per-token log-ratio summed over the response, averaged over the
    batch); the curves are smoothed over a few steps and each side's score is read where its KL first
    reaches the same levels (linear interpolation between steps).

Set-up (``--worker prepare``, once, shared by both sides):

  * policy: a small Llama built from a config with a byte-level BPE tokenizer trained here, then
    fine-tuned briefly on the self-instruct seed and user-oriented tasks (chat format) so that it writes
    text-like answers and emits end-of-turn; nothing is downloaded;
  * reward model: a sequence classifier initialised from that policy, trained with the Bradley-Terry loss
    on pairs of the policy's own samples, preferring the answer with the larger share of vowels (a
    property the policy can learn);
  * critic: both sides initialise the value network from the reward model (trl's ``value_model``,
    alignkit's ``critic=``);
  * prompts: the 175 self-instruct seed instructions, rendered with the chat template.

Scoring is token-exact on both sides: the reward model reads ``[query][response]`` token ids at the last
response token (end-of-turn included), which is what trl's ``get_reward`` does; the alignkit side feeds
the same function the tokens ``ValueHeadModel.generate`` sampled (``GeneratedTexts.response_tokens``)
and calls ``trainer.step`` (the documented loop), so no text round trip makes the two rewards differ.

Matched or disabled on the trl side: ``stop_token="eos"`` (alignkit cuts responses after the first EOS),
``missing_eos_penalty=None``, ``whiten_rewards=False``, ``kl_estimator="k1"``, ``num_sample_generations=0``,
``local_rollout_forward_batch_size`` = the rollout batch, constant learning rate, AdamW eps 1e-5 and
weight decay 0.01 (alignkit's optimizer), no bf16. trl 1.12's PPO loop never clips gradients, so the
alignkit side runs with ``max_grad_norm=0`` too.

trl runs in its own virtualenv (pass its Python with --trl-python), e.g.:

    python3 -m venv .venv-trl112
    .venv-trl112/bin/pip install torch==2.13.0 trl==1.12.0 transformers==5.24.0 accelerate
    python bench/bench_ppo.py --trl-python .venv-trl112/bin/python --write
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, peak_rss_mib, run_worker, stamp, write_section

SCRIPT = Path(__file__).resolve()
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
BOS, PAD, EOS = "<|endoftext|>", "<|pad|>", "<|im_end|>"
VOWELS = set("aeiouAEIOU")


# -- data -------------------------------------------------------------------------------------------
def _tasks(name: str) -> list[dict[str, Any]]:
    path = data_dir() / "self-instruct-benign" / name
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ppo_prompts() -> list[str]:
    """The self-instruct seed instructions (175)."""
    return [t["instruction"] for t in _tasks("seed_tasks.jsonl")]


def sft_pairs() -> list[tuple[str, str]]:
    """(instruction [+ input], output) from the seed and user-oriented tasks."""
    out = []
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for task in _tasks(name):
            for inst in task["instances"]:
                q = task["instruction"] + (f"\n\n{inst['input']}" if inst["input"] else "")
                out.append((q, inst["output"]))
    return out


def render_query(tok: Any, prompt: str) -> list[int]:
    """Query tokens exactly as alignkit's ``ValueHeadModel.encode_queries`` makes them."""
    text = tok.apply_chat_template(
        [{"role": "user", "content": prompt}],
        tokenize=False,
        add_generation_prompt=True,
    )
    return list(tok(text, add_special_tokens=False)["input_ids"])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def vowel_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(c in VOWELS for c in letters) / max(1, len(letters))


# -- the reward, as trl 1.12's get_reward computes it -------------------------------------------------
def layout(queries: list[list[int]], responses: list[list[int]], pad: int) -> tuple[Any, int]:
    """``[pad … query][response … pad]`` token ids [B, Q + R] and Q."""
    import torch

    Q, R = max(len(q) for q in queries), max(1, max(len(r) for r in responses))
    ids = torch.full((len(queries), Q + R), pad, dtype=torch.long)
    for i, (q, r) in enumerate(zip(queries, responses, strict=True)):
        ids[i, Q - len(q) : Q] = torch.tensor(q)
        if r:
            ids[i, Q : Q + len(r)] = torch.tensor(r)
    return ids, Q


def rm_scores(rm: Any, ids: Any, Q: int, pad: int) -> Any:
    """The classifier's score at the last response token (trl's ``get_reward``, line for line)."""
    import torch

    mask = ids != pad
    position_ids = mask.cumsum(1) - mask.long()
    hidden = rm.base_model(
        input_ids=ids.masked_fill(~mask, 0),
        attention_mask=mask.long(),
        position_ids=position_ids,
        use_cache=False,
    ).last_hidden_state
    logits = rm.score(hidden).squeeze(-1)
    resp_pad = ids[:, Q:] == pad
    R = resp_pad.size(1)
    last = torch.where(resp_pad.any(1), resp_pad.long().argmax(1), torch.full((ids.size(0),), R))  # first pad
    return logits[torch.arange(ids.size(0)), last - 1 + Q]


# -- set-up: tokenizer, policy, reward model ----------------------------------------------------------
def w_prepare(
    out: Path,
    hidden: int,
    layers: int,
    sft_steps: int,
    rm_pairs: int,
    max_new_tokens: int,
) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        AutoModelForSequenceClassification,
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    from alignkit.rlhf.losses import bradley_terry_loss

    t_start = time.perf_counter()
    torch.manual_seed(0)
    pairs, prompts = sft_pairs(), ppo_prompts()
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        [q + "\n" + a for q, a in pairs],
        trainers.BpeTrainer(
            vocab_size=1024,
            special_tokens=[BOS, "<|im_start|>", EOS, PAD],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, unk_token=BOS, pad_token=PAD)
    tok.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())

    # supervised fine-tuning on chat-formatted answers, so samples look like answers and end with EOS
    rows = [
        tok(
            tok.apply_chat_template(
                [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                tokenize=False,
            ),
            add_special_tokens=False,
        )["input_ids"][:128]
        for q, a in pairs
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    rng = random.Random(0)
    model.train()
    losses = []
    for step in range(sft_steps):
        batch = rng.sample(rows, 16)
        L = max(len(r) for r in batch)
        ids = torch.full((16, L), tok.pad_token_id)
        for i, r in enumerate(batch):
            ids[i, : len(r)] = torch.tensor(r)
        mask = ids != tok.pad_token_id
        logits = model(input_ids=ids, attention_mask=mask.long()).logits[:, :-1]
        labels = ids[:, 1:].masked_fill(~mask[:, 1:], -100)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        for g in opt.param_groups:
            g["lr"] = 2e-3 * min(1.0, (step + 1) / 50) * (1 - step / sft_steps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    log(f"sft: {sft_steps} steps, loss {losses[0]:.2f} -> {losses[-1]:.2f}, {time.perf_counter() - t_start:.0f} s")
    policy_dir = out / "policy"
    model.save_pretrained(policy_dir)
    tok.save_pretrained(policy_dir)
    t_sft = time.perf_counter()

    # the policy's own samples, two per prompt, labelled by share of vowels
    queries = [render_query(tok, prompts[i % len(prompts)]) for i in range(rm_pairs)]
    samples: list[list[int]] = []
    gen = GenerationConfig(
        do_sample=True,
        top_k=0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    for rep in range(2):
        for b in range(0, len(queries), 64):
            chunk = queries[b : b + 64]
            ids, Q = layout(chunk, [[] for _ in chunk], tok.pad_token_id)
            ids = ids[:, :Q]
            torch.manual_seed(1000 + rep * 100 + b)
            with torch.inference_mode():
                outs = model.generate(
                    input_ids=ids,
                    attention_mask=(ids != tok.pad_token_id).long(),
                    generation_config=gen,
                )
            eos = tok.eos_token_id
            samples += [row[: row.index(eos) + 1] if eos in row else row for row in outs[:, Q:].tolist()]
    first, second = samples[: len(queries)], samples[len(queries) :]
    data = []
    for q, a, b in zip(queries, first, second, strict=True):
        va, vb = (
            vowel_share(tok.decode(a, skip_special_tokens=True)),
            vowel_share(tok.decode(b, skip_special_tokens=True)),
        )
        if abs(va - vb) > 0.02:
            data.append((q, a, b) if va > vb else (q, b, a))
    rng.shuffle(data)
    log(f"rm data: {len(data)} pairs, {time.perf_counter() - t_start:.0f} s")
    n_eval = len(data) // 5
    held_out, train = data[:n_eval], data[n_eval:]
    rm = AutoModelForSequenceClassification.from_pretrained(policy_dir, num_labels=1)
    rm.config.pad_token_id = tok.pad_token_id
    opt = torch.optim.AdamW(rm.parameters(), lr=1e-3)
    rm.train()
    for _epoch in range(3):
        rng.shuffle(train)
        for b in range(0, len(train), 16):
            chunk = train[b : b + 16]
            ids, Q = layout(
                [c[0] for c in chunk] * 2,
                [c[1] for c in chunk] + [c[2] for c in chunk],
                tok.pad_token_id,
            )
            r = rm_scores(rm, ids, Q, tok.pad_token_id)
            loss = bradley_terry_loss(r[: len(chunk)], r[len(chunk) :])
            opt.zero_grad()
            loss.backward()
            opt.step()
    rm.eval()
    with torch.inference_mode():
        ids, Q = layout(
            [c[0] for c in held_out] * 2,
            [c[1] for c in held_out] + [c[2] for c in held_out],
            tok.pad_token_id,
        )
        r = rm_scores(rm, ids, Q, tok.pad_token_id)
        acc = float((r[: len(held_out)] > r[len(held_out) :]).float().mean())
        ids, Q = layout(queries, first, tok.pad_token_id)
        base = rm_scores(rm, ids, Q, tok.pad_token_id)
    reward_dir = out / "reward"
    rm.save_pretrained(reward_dir)
    tok.save_pretrained(reward_dir)
    eos_share = sum(bool(s) and s[-1] == tok.eos_token_id for s in first) / len(first)
    return {
        "params": n_params,
        "vocab": len(tok),
        "sft_loss_first": statistics.mean(losses[:10]),
        "sft_loss_last": statistics.mean(losses[-10:]),
        "sft_s": t_sft - t_start,
        "rm_train_pairs": len(train),
        "rm_heldout_pairs": len(held_out),
        "rm_heldout_accuracy": acc,
        "base_score_mean": float(base.mean()),
        "base_score_std": float(base.std()),
        "base_eos_share": eos_share,
        "prepare_s": time.perf_counter() - t_start,
    }


# -- the two trainers ---------------------------------------------------------------------------------
def w_alignkit(d: Path, hp: dict[str, Any]) -> dict[str, Any]:
    import accelerate  # noqa: F401  (imported before the clock starts, as on the trl side)
    import torch
    from transformers import AutoModelForSequenceClassification, LlamaForCausalLM  # noqa: F401  (lazy imports, too)

    from alignkit.rlhf.ppo import PPOConfig, PPOTrainer

    t0 = time.perf_counter()
    cfg = PPOConfig(
        model_name=str(d / "policy"),
        learning_rate=hp["lr"],
        batch_size=hp["batch_size"],
        mini_batch_size=hp["mini_batch_size"],
        ppo_epochs=hp["ppo_epochs"],
        max_new_tokens=hp["max_new_tokens"],
        temperature=hp["temperature"],
        init_kl_coef=hp["kl_coef"],
        adaptive_kl=False,
        cliprange=0.2,
        cliprange_value=0.2,
        vf_coef=0.1,
        gamma=1.0,
        lam=0.95,
        whiten_advantages=True,
        missing_eos_penalty=None,
        max_grad_norm=0.0,  # trl 1.12's PPO loop does not clip gradients
        seed=hp["seed"],
        device="cpu",
    )
    trainer = PPOTrainer(cfg, critic=str(d / "reward"))
    rm = AutoModelForSequenceClassification.from_pretrained(d / "reward").eval()
    pad = trainer.tokenizer.pad_token_id
    policy = trainer.policy
    prompts = ppo_prompts()
    setup_s = time.perf_counter() - t0
    per_epoch = len(prompts) // cfg.batch_size
    history, step_times, gen_s = [], [], 0.0
    t_loop = time.perf_counter()
    for step in range(hp["steps"]):
        ts = time.perf_counter()
        epoch, k = divmod(step, per_epoch)  # the order PPOTrainer.train uses
        order = list(range(len(prompts)))
        random.Random(cfg.seed + epoch).shuffle(order)
        queries = [prompts[i] for i in order[k * cfg.batch_size : (k + 1) * cfg.batch_size]]
        response = policy.generate(queries, seed=cfg.seed * 1_000_003 + step)
        gen_s += time.perf_counter() - ts
        with torch.inference_mode():
            ids, Q = layout(response.query_tokens, response.response_tokens, pad)
            scores = rm_scores(rm, ids, Q, pad)
        stats = trainer.step(queries, response, scores)
        step_times.append(time.perf_counter() - ts)
        history.append(
            {
                "kl": stats["objective/kl"],
                "score": stats["env/reward_mean"],
                "len": stats["tokens/response_len_mean"],
                "eos": stats["tokens/eos_fraction"],
            }
        )
    train_s = time.perf_counter() - t_loop
    return {
        "setup_s": setup_s,
        "train_s": train_s,
        "generate_s": gen_s,
        "step_s": step_times,
        "history": history,
        "rss_mib": peak_rss_mib(),
    }


def w_trl(d: Path, hp: dict[str, Any]) -> dict[str, Any]:
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import (  # noqa: F401  (LlamaForCausalLM: lazy imports before the clock, on both sides)
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
        LlamaForCausalLM,
        TrainerCallback,
    )

    try:
        from trl.experimental.ppo import PPOConfig, PPOTrainer, ppo_trainer
    except ImportError:
        from trl import PPOConfig, PPOTrainer
        from trl.trainer import ppo_trainer

    gen_s = [0.0]
    batch_generation = ppo_trainer.batch_generation

    def timed_generation(*args: Any, **kwargs: Any) -> Any:  # sampling time, for the report only
        t = time.perf_counter()
        try:
            return batch_generation(*args, **kwargs)
        finally:
            gen_s[0] += time.perf_counter() - t

    ppo_trainer.batch_generation = timed_generation

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(d / "policy", padding_side="left")
    prompts = ppo_prompts()
    train = Dataset.from_dict({"input_ids": [render_query(tok, p) for p in prompts]})
    B, M = hp["batch_size"], hp["mini_batch_size"]
    with tempfile.TemporaryDirectory() as out:
        args = PPOConfig(
            output_dir=out,
            learning_rate=hp["lr"],
            per_device_train_batch_size=B,  # rollout batch = per_device × grad. accumulation (1)
            gradient_accumulation_steps=1,
            num_mini_batches=B // M,  # optimizer step every M rollouts, like alignkit's mini_batch_size
            num_ppo_epochs=hp["ppo_epochs"],
            total_episodes=hp["steps"] * B,
            response_length=hp["max_new_tokens"],
            temperature=hp["temperature"],
            kl_coef=hp["kl_coef"],
            kl_estimator="k1",
            cliprange=0.2,
            cliprange_value=0.2,
            vf_coef=0.1,
            gamma=1.0,
            lam=0.95,
            whiten_rewards=False,
            stop_token="eos",
            missing_eos_penalty=None,
            local_rollout_forward_batch_size=B,
            num_sample_generations=0,
            lr_scheduler_type="constant",
            warmup_steps=0,
            adam_epsilon=1e-5,
            weight_decay=0.01,
            optim="adamw_torch",
            seed=hp["seed"],
            bf16=False,
            fp16=False,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        policy = AutoModelForCausalLM.from_pretrained(d / "policy")
        ref = AutoModelForCausalLM.from_pretrained(d / "policy")
        value = AutoModelForSequenceClassification.from_pretrained(d / "reward", num_labels=1)
        reward = AutoModelForSequenceClassification.from_pretrained(d / "reward", num_labels=1)
        step_ends: list[float] = []

        class Clock(TrainerCallback):
            def on_step_end(self, *_: Any, **__: Any) -> None:
                step_ends.append(time.perf_counter())

        trainer = PPOTrainer(
            args=args,
            processing_class=tok,
            model=policy,
            ref_model=ref,
            reward_model=reward,
            train_dataset=train,
            value_model=value,
            eval_dataset=train.select(range(B)),
            callbacks=[Clock()],
        )
        setup_s = time.perf_counter() - t0
        t_loop = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - t_loop
    logs = [h for h in trainer.state.log_history if "objective/kl" in h]
    history = [
        {
            "kl": h["objective/kl"],
            "score": h["objective/scores"],
            "eos_tokens": h.get("val/num_eos_tokens"),
        }
        for h in logs
    ]
    step_s = [b - a for a, b in zip([t_loop, *step_ends[:-1]], step_ends, strict=True)]
    return {
        "setup_s": setup_s,
        "train_s": train_s,
        "generate_s": gen_s[0],
        "step_s": step_s,
        "history": history,
        "rss_mib": peak_rss_mib(),
        "versions": f"trl {trl.__version__}, transformers {transformers.__version__}, torch {torch.__version__}",
    }


# -- comparison ---------------------------------------------------------------------------------------
def smooth(xs: list[float], w: int) -> list[float]:
    """Trailing moving average over ``w`` steps (fewer at the start)."""
    return [statistics.mean(xs[max(0, i - w + 1) : i + 1]) for i in range(len(xs))]


def score_at_kl(history: list[dict[str, float]], level: float, w: int) -> float | None:
    """Smoothed score where the smoothed KL first reaches ``level`` (interpolated); None if never."""
    kl, sc = (
        smooth([h["kl"] for h in history], w),
        smooth([h["score"] for h in history], w),
    )
    for i, k in enumerate(kl):
        if k >= level:
            if i == 0 or k == kl[i - 1]:
                return sc[i]
            f = (level - kl[i - 1]) / (k - kl[i - 1])
            return sc[i - 1] + f * (sc[i] - sc[i - 1])
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40, help="PPO steps (rollout batches) per side")
    ap.add_argument("--batch-size", type=int, default=32, help="rollouts per PPO step")
    ap.add_argument("--mini-batch-size", type=int, default=8, help="rollouts per optimizer step")
    ap.add_argument("--ppo-epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument(
        "--kl-coef",
        type=float,
        default=0.05,
        help="fixed β of the per-token KL penalty",
    )
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=24, help="response length limit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=128, help="policy hidden size")
    ap.add_argument("--layers", type=int, default=4, help="policy layers")
    ap.add_argument(
        "--sft-steps",
        type=int,
        default=300,
        help="fine-tuning steps that make the policy answer-like",
    )
    ap.add_argument(
        "--rm-pairs",
        type=int,
        default=768,
        help="sample pairs the reward model is trained on",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per worker (1 suits a shared 2-core machine)",
    )
    ap.add_argument("--repeats", type=int, default=2, help="training runs per side, alternated; speed is their median")
    ap.add_argument(
        "--smooth",
        type=int,
        default=5,
        help="steps in the moving average of the KL and score curves",
    )
    ap.add_argument(
        "--trl-python",
        required=False,
        help="the Python of a virtualenv with trl==1.12.0",
    )
    ap.add_argument(
        "--models",
        help="folder for the policy/reward models (default: a temporary folder)",
    )
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--report-from", help="render the section from a --json file instead of measuring")
    ap.add_argument(
        "--write",
        nargs="?",
        const=str(REPO / "bench" / "RESULTS.md"),
        help="update RESULTS.md (or FILE)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    hp = {
        "steps": a.steps,
        "batch_size": a.batch_size,
        "mini_batch_size": a.mini_batch_size,
        "ppo_epochs": a.ppo_epochs,
        "lr": a.lr,
        "kl_coef": a.kl_coef,
        "temperature": a.temperature,
        "max_new_tokens": a.max_new_tokens,
        "seed": a.seed,
    }
    if a.batch_size % a.mini_batch_size:
        sys.exit("--batch-size must be a multiple of --mini-batch-size (trl's num_mini_batches)")

    if a.worker:
        import torch

        torch.set_num_threads(a.threads)
        d = Path(a.dir)
        fn = {
            "prepare": lambda: w_prepare(d, a.hidden, a.layers, a.sft_steps, a.rm_pairs, a.max_new_tokens),
            "alignkit": lambda: w_alignkit(d, hp),
            "trl": lambda: w_trl(d, hp),
        }[a.worker]
        print(json.dumps(fn()))
        return
    if a.report_from:
        raw = json.loads(Path(a.report_from).read_text())
        body = report(a, raw["hp"], raw["prepare"], raw["alignkit"], raw["trl"])
        print(body)
        if a.write:
            write_section("ppo", body, Path(a.write))
        return
    if not a.trl_python:
        sys.exit("pass --trl-python PATH: the Python of a virtualenv with trl==1.12.0 (see this file's docstring)")

    common = [
        *(
            "--steps",
            str(a.steps),
            "--batch-size",
            str(a.batch_size),
            "--mini-batch-size",
            str(a.mini_batch_size),
        ),
        *(
            "--ppo-epochs",
            str(a.ppo_epochs),
            "--lr",
            str(a.lr),
            "--kl-coef",
            str(a.kl_coef),
        ),
        *(
            "--temperature",
            str(a.temperature),
            "--max-new-tokens",
            str(a.max_new_tokens),
            "--seed",
            str(a.seed),
        ),
        *(
            "--hidden",
            str(a.hidden),
            "--layers",
            str(a.layers),
            "--sft-steps",
            str(a.sft_steps),
        ),
        *("--rm-pairs", str(a.rm_pairs), "--threads", str(a.threads)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(a.models or tmp)
        d.mkdir(parents=True, exist_ok=True)
        args = [*common, "--dir", str(d)]
        cached = d / "prepare.json"
        if cached.exists():  # --models with a folder from an earlier run: same models
            prep = json.loads(cached.read_text())
        else:
            print("preparing the policy and the reward model ...", flush=True)
            prep = run_worker(SCRIPT, ["--worker", "prepare", *args])
            cached.write_text(json.dumps(prep))
        print(json.dumps(prep), flush=True)
        n = a.steps * a.batch_size
        runs: dict[str, list[dict[str, Any]]] = {"alignkit": [], "trl": []}
        for r in range(a.repeats):  # A B B A …: drift on the shared machine hits both sides alike
            for side in ("alignkit", "trl") if r % 2 == 0 else ("trl", "alignkit"):
                print(f"{side} PPO, repeat {r + 1}/{a.repeats} ...", flush=True)
                res = run_worker(SCRIPT, ["--worker", side, *args], python=a.trl_python if side == "trl" else None)
                print(f"  {n / res['train_s']:.2f} samples/s", flush=True)
                runs[side].append(res)
    if a.json:
        Path(a.json).write_text(json.dumps({"hp": hp, "prepare": prep, **runs}, indent=1))
    body = report(a, hp, prep, runs["alignkit"], runs["trl"])
    print(body)
    if a.write:
        write_section("ppo", body, Path(a.write))


def report(
    a: argparse.Namespace,
    hp: dict[str, Any],
    prep: dict[str, Any],
    our_runs: list[dict[str, Any]],
    their_runs: list[dict[str, Any]],
) -> str:
    n = hp["steps"] * hp["batch_size"]
    ours, theirs = our_runs[0], their_runs[0]  # the curves: the first run of each (seeded)
    sps = {k: [n / r["train_s"] for r in runs] for k, runs in (("o", our_runs), ("t", their_runs))}
    sps_o, sps_t = statistics.median(sps["o"]), statistics.median(sps["t"])
    step_o = statistics.median(s for r in our_runs for s in r["step_s"])
    step_t = statistics.median(s for r in their_runs for s in r["step_s"])
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    gen_o, gen_t = med(our_runs, "generate_s"), med(their_runs, "generate_s")
    loop_o, loop_t = med(our_runs, "train_s"), med(their_runs, "train_s")
    same = {
        k: all(r["history"] == runs[0]["history"] for r in runs) for k, runs in (("o", our_runs), ("t", their_runs))
    }
    w = a.smooth
    top = min(max(smooth([h["kl"] for h in r["history"]], w)) for r in (ours, theirs))
    levels = [top * f for f in (0.25, 0.5, 0.75, 1.0)]
    first = {name: statistics.mean(h["score"] for h in r["history"][:w]) for name, r in (("o", ours), ("t", theirs))}
    last = {
        name: (
            statistics.mean(h["kl"] for h in r["history"][-w:]),
            statistics.mean(h["score"] for h in r["history"][-w:]),
        )
        for name, r in (("o", ours), ("t", theirs))
    }
    cmd = (
        f"python bench/bench_ppo.py --steps {a.steps} --batch-size {a.batch_size} --mini-batch-size {a.mini_batch_size} "
        f"--ppo-epochs {a.ppo_epochs} --lr {a.lr:g} --kl-coef {a.kl_coef:g} --max-new-tokens {a.max_new_tokens} "
        f"--threads {a.threads} --repeats {a.repeats} --trl-python .venv-trl112/bin/python --write"
    )
    lines = [
        "## PPO: alignkit vs trl 1.12's PPOTrainer",
        "",
        stamp(cmd).rstrip()
        + f"  \ntrl side: {theirs['versions']} (its own virtualenv); alignkit side: the project venv",
        "",
        f"Policy: a {a.layers}-layer Llama, hidden {a.hidden}, {prep['params'] / 1e6:.2f} M parameters, BPE vocabulary "
        f"{prep['vocab']}, built from a config and fine-tuned {a.sft_steps} steps on self-instruct answers (loss "
        f"{prep['sft_loss_first']:.2f} → {prep['sft_loss_last']:.2f}). Reward model (also both critics' initialisation): "
        f"that policy with a score head, Bradley-Terry on {prep['rm_train_pairs']} pairs of its own samples preferring "
        f"more vowels, held-out pair accuracy {prep['rm_heldout_accuracy']:.2f}. Prompts: the 175 self-instruct seed "
        f"instructions. Same hyper-parameters on both sides: {hp['steps']} steps × {hp['batch_size']} rollouts, "
        f"mini-batch {hp['mini_batch_size']}, {hp['ppo_epochs']} PPO epochs, lr {hp['lr']:g} (constant), fixed β "
        f"{hp['kl_coef']:g}, temperature {hp['temperature']:g}, at most {hp['max_new_tokens']} new tokens, stop at "
        "end-of-turn, clip 0.2/0.2, vf_coef 0.1, γ 1, λ 0.95, whitened advantages, no gradient clipping, seed "
        f"{hp['seed']}. The reward is read token-exactly on both sides (trl's `get_reward`). Timing covers the whole "
        "loop (sampling, scoring, PPO update), not model loading. "
        f"Each side trained {len(our_runs)} times, the "
        "runs alternated (A B B A …) on the same 2 cores, one torch thread each; other jobs share the machine, so "
        "timings carry some noise.",
        "",
        "| measurement | alignkit | trl 1.12 | ratio (>1: alignkit faster; score: alignkit − trl) |",
        "|---|---|---|---|",
        f"| samples/s over the run, median of {len(our_runs)} | {sps_o:.2f} ({', '.join(f'{x:.2f}' for x in sps['o'])}) "
        f"| {sps_t:.2f} ({', '.join(f'{x:.2f}' for x in sps['t'])}) | {sps_o / sps_t:.2f}× |",
        f"| median step time, all runs | {step_o:.2f} s | {step_t:.2f} s | {step_t / step_o:.2f}× |",
        f"| training loop (median run) | {loop_o:.0f} s | {loop_t:.0f} s | {loop_t / loop_o:.2f}× |",
        f"| of which sampling (generate) | {gen_o:.0f} s | {gen_t:.0f} s | {gen_t / gen_o:.2f}× |",
        f"| of which scoring + PPO update | {loop_o - gen_o:.0f} s | {loop_t - gen_t:.0f} s "
        f"| {(loop_t - gen_t) / (loop_o - gen_o):.2f}× |",
        f"| peak memory (max RSS) | {ours['rss_mib']:.0f} MiB | {theirs['rss_mib']:.0f} MiB | |",
        f"| score, first {w} steps | {first['o']:.3f} | {first['t']:.3f} | |",
        f"| KL / score, last {w} steps | {last['o'][0]:.2f} / {last['o'][1]:.3f} | {last['t'][0]:.2f} / {last['t'][1]:.3f} | |",
    ]
    for lv in levels:
        so, st = (
            score_at_kl(ours["history"], lv, w),
            score_at_kl(theirs["history"], lv, w),
        )
        fmt = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
        diff = "" if so is None or st is None else f"{so - st:+.3f}"
        lines.append(f"| score at KL {lv:.2f} nats | {fmt(so)} | {fmt(st)} | {diff} |")
    lines += [
        "",
        f"Score = mean reward-model score of the step's rollouts; KL = mean over rollouts of the summed per-token "
        f"log-ratio to the reference (k1), as both libraries log it; both curves are {w}-step moving averages, read "
        f"where each side's KL first reaches the level (levels: ¼…1 of the lower of the two sides' peak smoothed KL). "
        f"Noise: the initial policy's scores have a standard deviation of {prep['base_score_std']:.2f}, so a {w}-step "
        f"average of {hp['batch_size']}-rollout batches carries a standard error of about "
        f"{prep['base_score_std'] / (w * hp['batch_size']) ** 0.5:.2f}. Repeated runs gave identical curves: "
        f"alignkit {'yes' if same['o'] else 'no'}, trl {'yes' if same['t'] else 'no'}.",
        "",
        "Per-step curves (KL, score), every 5th step:",
        "",
        "| step | alignkit KL | alignkit score | trl KL | trl score |",
        "|---|---|---|---|---|",
    ]
    for i in range(0, hp["steps"], 5):
        ho, ht = ours["history"][i], theirs["history"][i]
        lines.append(f"| {i + 1} | {ho['kl']:.2f} | {ho['score']:.3f} | {ht['kl']:.2f} | {ht['score']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
