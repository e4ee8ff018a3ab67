"""Errors an adapter raises about one request, which the runner turns into one-line messages."""
from __future__ import annotations


class InputTooLong(Exception):
    def __init__(self, position: int, n_tokens: int, limit: int):
        super().__init__(f"request {position} needs {n_tokens} tokens, the model accepts {limit}")
        self.position, self.n_tokens, self.limit = position, n_tokens, limit
