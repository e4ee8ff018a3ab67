"""Rolling token windows for whole-text log-likelihoods (perplexity), pure functions.

The same windows as lm-evaluation-harness 0.4 (``lm_eval.utils.get_rolling_token_windows`` and
``make_disjoint_window``, MIT license): the first window predicts the first ``max_len`` tokens
from a prefix token (BOS, or EOS where there is none); every later window predicts the next
``stride`` tokens and sees up to ``max_len`` tokens in all, those before the predicted ones as
context. ``stride == max_len`` (the default) is lm-eval's disjoint windows (context 1 token, as
its ``context_len=1``); a smaller stride gives every prediction more context at more cost, the
sliding window of Hugging Face's perplexity guide. Every token of the text is predicted once.
"""
from __future__ import annotations

from typing import Iterator, Sequence


def rolling_windows(tokens: Sequence[int], prefix_token: int, max_len: int, stride: int | None = None
                    ) -> Iterator[tuple[list[int], list[int]]]:
    """(context, predicted) pairs; the model's input is ``(context + predicted)[:-1]`` and it is
    scored on ``predicted``. len(context + predicted) - 1 <= max_len always."""
    stride = max_len if stride is None else stride
    if not 1 <= stride <= max_len:
        raise ValueError(f"stride {stride} is not between 1 and the window {max_len}")
    tokens = list(tokens)
    if not tokens:
        return
    # lm-eval's get_rolling_token_windows with context_len = max_len - stride + 1 ...
    first = min(max_len, len(tokens))
    windows = [([prefix_token] + tokens[: first - 1], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, stride)
        end = predicted + n
        windows.append((tokens[max(0, end - max_len - 1): end - 1], tokens[end - n: end]))
        predicted += n
    # ... each made disjoint as its make_disjoint_window: the context is the window minus what it predicts
    for inputs, target in windows:
        yield inputs[: len(inputs) - (len(target) - 1)], target
