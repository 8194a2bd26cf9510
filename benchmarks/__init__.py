"""Benchmarks: not tests. Each module measures one thing and returns table rows.

Run them with ``python -m benchmarks.run <name>|all`` (``make bench``); the README
shows their numbers with the command that produced them.
"""
