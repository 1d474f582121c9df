"""Credits metrics. Plain counters: under PROMETHEUS_MULTIPROC_DIR each process writes its own
file and /metrics (smartmate.observability) sums them, so nothing here is per-process state."""

from prometheus_client import Counter

SPENT = Counter("smartmate_credits_spent_total", "Credits spent on model calls beyond the free allowance", ["model"])
REWARDED = Counter("smartmate_credits_rewarded_total", "Credits paid to authors of shared plans", ["kind"])
GRANTED = Counter(
    "smartmate_credits_granted_total", "Credits staff granted (direction=give) or took back (take)", ["direction"]
)
REFUSED = Counter("smartmate_llm_calls_refused_total", "Model calls refused with 402 insufficient_credits", ["model"])
CALLS = Counter("smartmate_llm_calls_total", "Model calls settled (free ones included)", ["model"])
