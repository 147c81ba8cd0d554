"""Layer 3: RLHF. Preference data today; reward models, PPO, DPO and RLOO/GRPO are being built
(see the project's issues)."""

from alignkit.rlhf.data import ImportReport, clean, from_rows, hh_pair, load_preferences, parse_hh, to_hf_dataset

__all__ = ["ImportReport", "clean", "from_rows", "hh_pair", "load_preferences", "parse_hh", "to_hf_dataset"]
