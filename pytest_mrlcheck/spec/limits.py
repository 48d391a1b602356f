"""Upper bounds on every number of a spec that sizes work or memory (the README's "Limits")."""

from __future__ import annotations

MAX_DIMS = 65_536  # a prefix size, window width/step, dimension index + 1, block, min_dims.max/step
MAX_DIMS_LIST = 1_024  # entries of one list of sizes (random.dims, views.prefix, …)
MAX_SAMPLES = 10_000  # random.samples
MAX_RESAMPLES = 100_000  # bootstrap.resamples
MAX_LIMIT = 10_000_000  # task.data.limit
MAX_QUERIES = 100_000  # task.queries.count (agreement)
MAX_K = 10_000  # task.k and the @k of a metric
MAX_SHORTLIST = 100_000  # task.funnel.shortlist
MAX_BATCH = 100_000  # model.batch_size
MAX_TOKENS_PER_BATCH = 10_000_000  # model.max_tokens_per_batch (openai)
MAX_CONCURRENCY = 256  # model.concurrency (openai)
MAX_RETRIES = 100  # model.max_retries (openai)
MAX_SEED = 2**32 - 1  # every seed (numpy's and scikit-learn's range)
