"""Async generation: plans, concurrency, retries, the response cache, resume, scoring and storing."""
