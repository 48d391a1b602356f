"""The evaluation engine: one spec to its scores, in small modules with one job each.

``orchestrate.evaluate`` is the entry point; ``registry.prepare`` loads and embeds the task of a spec
of any kind (its own split, another split, the server-truncated vectors).
"""
