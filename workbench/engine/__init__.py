"""Async generation: what to run (plan.py: plan_eval, plan_from_run), running it (runner.py: execute, with
concurrency, retries and cancel), and what happens to each answer (results.py: scoring, batched storing, the
response cache). The public entry point above it is workbench.api."""
