"""Errors an adapter raises about one request, which the runner turns into one-line messages."""
from __future__ import annotations


class InputTooLong(Exception):
    def __init__(self, position: int, n_tokens: int, limit: int, max_new_tokens: int = 0):
        """``n_tokens`` counts the positions the request needs: for a generation, its prompt's
        tokens plus the ``max_new_tokens`` it may generate."""
        super().__init__(f"request {position} needs {n_tokens} tokens, the model accepts {limit}")
        self.position, self.n_tokens, self.limit, self.max_new_tokens = position, n_tokens, limit, max_new_tokens
