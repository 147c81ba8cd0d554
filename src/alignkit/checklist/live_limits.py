"""Rate limiting enabled: the user probe key is driven over its limit and must get a 429 that says when to
come back (``Retry-After``) and how the limit stands (``x-ratelimit-*``), as OpenAI's clients expect.

The first request reads the key's limit from ``x-ratelimit-limit-requests`` and what is left from
``x-ratelimit-remaining-requests``; the probe then sends what is left and :data:`EXTRA_REQUESTS` more,
one token each, and stops at the first 429. No ``x-ratelimit-limit-requests`` on the first answer means
no request limit applies to the key: the item fails. A limit over :data:`MAX_PROBE_REQUESTS` fails too:
the probe would cost that many model calls; give the probe a key of its own with a small limit.

Run it last: it leaves the probe key limited for up to a minute.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx

from alignkit.checklist.live_probe import Probe, ProbeError, error_text, item, show
from alignkit.checklist.model import Evidence, ItemResult

ID = "rate_limits"
EXTRA_REQUESTS = 3
"""Requests past the advertised remainder before concluding the limit is not enforced (another client of
the same key, or a second gateway instance with its own counter, may make the count drift by a few)."""
MAX_PROBE_REQUESTS = 120
"""The most requests the probe sends: a per-minute limit above it is not exceeded by the checklist."""
RATE_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
FIX_KEY = (
    "give the probe a user key of its own with a small limit: alignkit keys create checklist-probe --scope user "
    "--rpm 5 --config gateway.yaml, and put it in the variable gateway.keys.user names"
)


def check_rate_limits(probe: Probe, budget_s: float) -> ItemResult:
    """See the module docstring. ``budget_s`` bounds the whole probe (the requests are sequential)."""
    probe.need_key("user")
    deadline = time.monotonic() + budget_s
    url = f"{probe.url}/v1/chat/completions"
    earlier = probe.chats  # the checklist's own requests before this one count against the same limit
    first = probe.chat("Reply with OK.")
    evidence = [Evidence("first request with the user probe key", show(first, *RATE_HEADERS), url)]
    if first.status_code == 429:
        return _check_429(first, 1, Counter({429: 1}), evidence, _int(first, RATE_HEADERS[0]), earlier)
    if first.status_code != 200:
        raise ProbeError(f"the first probe request answered {first.status_code}: {error_text(first)}", None, evidence)
    limit, remaining = _int(first, RATE_HEADERS[0]), _int(first, RATE_HEADERS[1])
    if limit is None or remaining is None:
        return item(
            ID,
            "fail",
            "no request limit applies to the probe key: the first answer has no x-ratelimit-limit-requests header",
            evidence,
            "set limits.requests_per_min in gateway.yaml (per key), or create the key with --rpm N",
        )
    if remaining + EXTRA_REQUESTS >= MAX_PROBE_REQUESTS:
        return item(
            ID,
            "fail",
            f"the probe key allows {limit} requests a minute: exceeding it would take more than "
            f"{MAX_PROBE_REQUESTS} model calls, so the limit was not tested",
            evidence,
            FIX_KEY,
            {"limit": limit, "remaining": remaining},
        )
    statuses: Counter[int] = Counter({200: 1})
    for n in range(2, remaining + EXTRA_REQUESTS + 2):
        if time.monotonic() > deadline:
            raise ProbeError(
                f"gave up after {n - 1} requests and {budget_s:g} s without a 429 (statuses {_counts(statuses)})",
                "a slow model: raise gateway.timeout_s in deploy.yaml, or give the probe a key with a smaller --rpm",
                evidence,
            )
        r = probe.chat("Reply with OK.")
        statuses[r.status_code] += 1
        if r.status_code == 429:
            return _check_429(r, n, statuses, evidence, limit, earlier)
        if r.status_code != 200:
            evidence.append(Evidence(f"request {n}", show(r), url))
            raise ProbeError(f"probe request {n} answered {r.status_code}: {error_text(r)}", None, evidence)
    sent = remaining + EXTRA_REQUESTS + 1
    return item(
        ID,
        "fail",
        f"the limit is not enforced: {sent} requests within a minute on a key limited to {limit}, no 429",
        [*evidence, Evidence("statuses of the probe's requests", _counts(statuses), url)],
        "check that every gateway instance shares one counter (redis: in gateway.yaml) and that the key's limit is the "
        "one you meant (alignkit keys list)",
        {"limit": limit, "sent": sent},
    )


def _check_429(
    r: httpx.Response, n: int, statuses: Counter[int], evidence: list[Evidence], limit: int | None, earlier: int
) -> ItemResult:
    """The 429 must say when to retry and how the limit stands. ``earlier``: the checklist's own requests
    with the key before this probe (a limit they used up is still a limit the probe saw enforced)."""
    url = str(r.request.url)
    evidence += [
        Evidence("statuses of the probe's requests", _counts(statuses), url),
        Evidence(f"request {n}: the 429", show(r, "retry-after", *RATE_HEADERS), url),
        Evidence("its error", error_text(r, hint=False), url),
    ]
    details = {"limit": limit, "requests_to_429": n, "retry_after": r.headers.get("retry-after")}
    missing = [h for h in ("retry-after", *RATE_HEADERS) if h not in r.headers]
    retry = _int(r, "retry-after")
    if missing or retry is None or retry < 0:
        what = f"lacks {', '.join(missing)}" if missing else f"has Retry-After {r.headers['retry-after']!r}"
        return item(
            ID,
            "fail",
            f"a 429 arrived after {n} requests but {what}: clients cannot back off correctly",
            evidence,
            "answer 429s through alignkit's limiter (a proxy in front of the gateway may strip the headers)",
            details,
        )
    if n == 1 and earlier < (limit or 0):
        return item(
            ID,
            "warn",
            f"the probe key was already over its limit of {limit} (a checklist run less than a minute ago?); the 429 "
            f"carries Retry-After {retry} and the x-ratelimit-* headers, but the limit itself was not measured",
            evidence,
            f"run the checklist again after {retry} s, or give the probe a key nothing else uses",
            details,
        )
    return item(
        ID,
        "pass",
        f"request {n + earlier} (counting the checklist's {earlier} earlier ones) on a key limited to {limit} a "
        f"minute got 429 with Retry-After {retry} and the x-ratelimit-* headers",
        evidence,
        details=details,
    )


def _int(r: httpx.Response, name: str) -> int | None:
    try:
        return int(r.headers[name])
    except (KeyError, ValueError):
        return None


def _counts(statuses: Counter[int]) -> str:
    return ", ".join(f"{s} x{c}" for s, c in sorted(statuses.items()))
