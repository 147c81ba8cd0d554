"""The secrets detector: each kind with positives and look-alikes, spans that cover exactly the secret,
options and registry names, redaction, and linear time on hostile input.

Test keys are assembled at run time from harmless pieces, so the repository holds no complete
credential for a secret scanner to take for a real one.
"""

from __future__ import annotations

import base64
import doctest
import json

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.records import Verdict
from alignkit.detectors import Detector, get_detector, secrets
from alignkit.detectors.secrets import KINDS, SecretsDetector, redact_secrets, shannon_entropy
from tests.helpers.timing import LINEAR_LIMIT, growth

DETECTOR = SecretsDetector()
RANDOM = "q7Xk2mP9vR4tZ8wL3nB6yH1cJ5dF0gS"  # 31 distinct characters: high entropy


def b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT = f"{b64url({'alg': 'HS256', 'typ': 'JWT'})}.{b64url({'sub': '42', 'name': 'x'})}.{RANDOM[:22]}"
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEow" + RANDOM * 2 + "\n" + RANDOM + "==\n-----END RSA PRIVATE KEY-----"


def found(text: str, detector: Detector = DETECTOR) -> list[tuple[str, str]]:
    return [(s.label, text[s.start : s.end]) for s in detector.find(text).spans]


POSITIVES = [
    ("id " + "AKIA" + "IOSFODNN7EXAMPLE" + " ok", "AWS_ACCESS_KEY_ID", "AKIA" + "IOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = " + RANDOM + "/+abcdefg", "AWS_SECRET_KEY", RANDOM + "/+abcdefg"),  # 40 chars
    ("export GH=" + "ghp_" + RANDOM + "abcde", "GITHUB_TOKEN", "ghp_" + RANDOM + "abcde"),
    ("token github_pat_" + RANDOM + "_" + RANDOM, "GITHUB_TOKEN", "github_pat_" + RANDOM + "_" + RANDOM),
    ("OPENAI_API_KEY=sk-" + RANDOM, "OPENAI_KEY", "sk-" + RANDOM),
    ("key: sk-proj-" + RANDOM + "-" + RANDOM, "OPENAI_KEY", "sk-proj-" + RANDOM + "-" + RANDOM),
    ("use sk-ant-api03-" + RANDOM * 3, "ANTHROPIC_KEY", "sk-ant-api03-" + RANDOM * 3),
    ("slack " + "xoxb-" + "123456789012-" + RANDOM, "SLACK_TOKEN", "xoxb-123456789012-" + RANDOM),
    (
        "hook https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/" + RANDOM[:24],
        "SLACK_WEBHOOK",
        "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/" + RANDOM[:24],
    ),
    ("maps AIza" + RANDOM + "abcd", "GOOGLE_API_KEY", "AIza" + RANDOM + "abcd"),
    ("stripe sk_live_" + RANDOM, "STRIPE_KEY", "sk_live_" + RANDOM),
    ("restricted rk_live_" + RANDOM, "STRIPE_KEY", "rk_live_" + RANDOM),
    ("here:\n" + PEM + "\nthanks", "PRIVATE_KEY", PEM),
    ("Authorization: Bearer " + JWT, "JWT", JWT),
    ("session=" + JWT + ".", "JWT", JWT),
    ('db_password = "' + RANDOM + '"', "GENERIC_SECRET", RANDOM),
    ('{"client_secret": "' + RANDOM + '"}', "GENERIC_SECRET", RANDOM),
    ("API-KEY: " + RANDOM, "GENERIC_SECRET", RANDOM),
    ("curl -H 'Authorization: Bearer " + RANDOM + "'", "BEARER_TOKEN", RANDOM),
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES, ids=[p[1] for p in POSITIVES])
def test_finds_secret_with_exact_span(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


def test_every_kind_has_a_positive_example() -> None:
    assert {kind for _, kind, _ in POSITIVES} == set(KINDS)


NEGATIVES = [
    "pip install scikit-learn; the sk-learn alias",
    "sk-" + "a" * 40,  # "sk-" and a long slug: too regular to be a key
    'password = "changeme123"',
    'password = "hunter2"',
    'token = os.environ["API_TOKEN"]',
    "api_key: ${API_KEY}",
    'secret = "<your-secret-here>"',
    "The password is hunter2. Use a key: value map.",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----",
    "eyJhbGciOiJIUzI1NiJ9 alone, and eyJub3QganNvbg.eyJ4IjoxfQ.abc with a header that is not JSON",
    f"{b64url({'typ': 'JWT'})}.{b64url({'sub': '1'})}.sig",  # no "alg": not a JWT
    "AKIA1234 is too short",
    "sk_test_ is a prefix with nothing after it",
    "token_url: https://auth.q7xk2m.com/oauth2/v1/token",
    "password_file = /etc/q7Xk2mP9/vR4tZ8wL.txt",
    "generate(prompt, max_tokens=cfg.max_tokens, token=tokenizer.eos_token, pwd=new_password)",
    'print(f"{secret_name:>20}")',
    "def load(secret: SecretType, token: Optional[TokenCallable]) -> None: ...",
]


@pytest.mark.parametrize("text", NEGATIVES, ids=[n[:30] for n in NEGATIVES])
def test_look_alike_is_not_flagged(text: str) -> None:
    assert found(text) == []


def test_stripe_test_keys_score_lower_than_live_ones() -> None:
    live, test = (DETECTOR.find(f"k sk_{mode}_{RANDOM}").score for mode in ("live", "test"))
    assert live >= 0.9 and 0.5 <= test < live


def test_truncated_private_key_is_still_caught() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + RANDOM + "\n" + RANDOM
    assert found(text) == [("PRIVATE_KEY", text)]


def test_vendor_key_inside_an_assignment_keeps_its_vendor_label() -> None:
    text = "api_key = ghp_" + RANDOM + "abcde"
    assert found(text) == [("GITHUB_TOKEN", "ghp_" + RANDOM + "abcde")]


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0 and shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy(RANDOM) > 4.5


# -- options, registry, verdicts, redaction ---------------------------------------------------------
def test_kinds_filter_and_errors() -> None:
    text = "ghp_" + RANDOM + "abcde and sk_live_" + RANDOM
    only = get_detector("secrets", kinds=["stripe_key"])
    assert [k for k, _ in found(text, only)] == ["STRIPE_KEY"]
    assert only.spec == "secrets(kinds=['STRIPE_KEY'])"
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID"):
        SecretsDetector(kinds=["PASSWORDS"])


@pytest.mark.parametrize("name", ["secrets", "secrets_present", "guardrails/secrets_present", "api_keys"])
def test_registry_names_and_aliases(name: str) -> None:
    assert isinstance(get_detector(name), SecretsDetector)


def test_verdict_reason_names_kinds_never_values() -> None:
    text = "ghp_" + RANDOM + "abcde, " + JWT
    v = get_detector("secrets").detect(text)
    assert isinstance(v, Verdict) and v.flagged and v.label == "GITHUB_TOKEN"
    assert v.reason == "found 1 GITHUB_TOKEN, 1 JWT" and RANDOM[:8] not in v.reason
    assert set(v.categories) == {"GITHUB_TOKEN", "JWT"} and len(v.spans) == 2


def test_clean_text_is_not_flagged() -> None:
    v = DETECTOR.detect("Please summarize the key points of the token economy article in 200 words.")
    assert (v.flagged, v.score, v.spans) == (False, 0.0, ())


def test_redaction_and_fix_hook() -> None:
    text = "export GITHUB_TOKEN=ghp_" + RANDOM + "abcde # rotate"
    assert redact_secrets(text) == "export GITHUB_TOKEN=<GITHUB_TOKEN> # rotate"
    assert DETECTOR.fix(text, DETECTOR.detect(text)) == "export GITHUB_TOKEN=<GITHUB_TOKEN> # rotate"
    masked = redact_secrets(text, style="mask")
    assert len(masked) == len(text) and RANDOM not in masked


def test_docstring_examples_run() -> None:
    result = doctest.testmod(secrets)
    assert result.attempted >= 2 and result.failed == 0


# -- hidden secrets ---------------------------------------------------------------------------------
AWS = "AKIA" + "IOSFODNN7" + "EXAMPLE"
OPENAI = "sk-proj-" + RANDOM + "Ab9"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AKIA\u200b" + AWS[4:], "AWS_ACCESS_KEY_ID"),  # zero-width space inside
        (OPENAI[:14] + "\u00ad" + OPENAI[14:30] + "\u200d" + OPENAI[30:], "OPENAI_KEY"),  # soft hyphen, joiner
        ("".join(chr(ord(c) + 0xFEE0) for c in AWS), "AWS_ACCESS_KEY_ID"),  # full-width
        ("\u202e" + ("ghp_" + RANDOM + "abcde")[::-1], "GITHUB_TOKEN"),  # reversed behind an RLO
        ("\u0410KIA" + AWS[4:], "AWS_ACCESS_KEY_ID"),  # Cyrillic capital A
    ],
)
def test_hidden_secret_gets_a_span_over_all_of_it(value: str, kind: str) -> None:
    text = f"the key is {value} ok"
    v = DETECTOR.detect(text)
    assert v.flagged and v.label == kind and "after Unicode normalization" in v.reason
    redacted = DETECTOR.fix(text, v)
    assert redacted.startswith("the key is ") and redacted.endswith(f"<{kind}> ok")


# -- security ---------------------------------------------------------------------------------------
HOSTILE = ["a", "1", "@", ". ", "eyJ", "eyJa.", "sk-", "sk-a", "xoxb-", "AKIA", "ghp_", "a:", "::", ": ",
           "a=b ", "password=", "Password: x", "-----BEGIN RSA PRIVATE KEY-----", "-----END PRIVATE KEY-----",
           "Bearer ", "aws_secret_key=", "AKIA\u200b", "sk-\u00ad", "\u202eAKIA", "ｓｋ-"]  # fmt: skip


@pytest.mark.parametrize("unit", HOSTILE)
def test_hostile_input_takes_linear_time(unit: str) -> None:
    detector = SecretsDetector(threshold=0.0)
    n = 3000 // len(unit)
    ratio = growth(detector.find, unit, n)
    assert ratio < LINEAR_LIMIT, f"{unit!r}: 10x the text took {ratio:.1f}x the time"
