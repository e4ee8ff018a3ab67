"""Adapters with known behaviour, loaded by tests through `--model py:fake_models:NAME`."""
from __future__ import annotations

import numpy as np
import torch

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
from harness.models.errors import InputTooLong
from harness.requests import Classification, ClassifyRequest, Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest


class ShortestChoice(AnswersOnlyWhatItSupports):
    """Log-likelihood = minus the continuation's length, so the shortest choice always wins.
    With ``oom_above=N`` it raises CUDA's out-of-memory error for batches larger than N;
    with ``fail_after=K`` it raises ValueError on every call after the K-th."""

    supports = frozenset({LoglikelihoodRequest, GenerateRequest, ClassifyRequest})

    def __init__(self, oom_above: str = "0", fail_after: str = "0", max_length: str = "0", device: str = "cpu"):
        self.oom_above, self.fail_after, self.max_length = int(oom_above), int(fail_after), int(max_length)
        self.info = ModelInfo(kind="fake", device=device, dtype="none", parameters=0)
        self.batch_sizes: list[int] = []

    def token_count(self, text: str) -> int:
        return len(text.split())

    def _check(self, requests):
        self.batch_sizes.append(len(requests))
        if self.oom_above and len(requests) > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if self.fail_after and len(self.batch_sizes) > self.fail_after:
            raise ValueError("simulated model failure")
        for i, r in enumerate(requests):
            n = self.token_count(getattr(r, "context", getattr(r, "text", "")))
            if self.max_length and n > self.max_length:
                raise InputTooLong(i, n, self.max_length)

    def loglikelihood(self, requests):
        self._check(requests)
        return [Loglikelihood(logprob=-float(len(r.continuation)), is_greedy=False, n_tokens=1) for r in requests]

    def generate(self, requests):
        self._check(requests)
        return [Generation(text=r.context.split()[-1], n_tokens=1) for r in requests]

    def classify(self, requests):
        self._check(requests)
        return [Classification(label="a" if "a" in r.text else "b") for r in requests]


FEMALE = {"she", "her", "hers", "herself", "woman", "women", "girl", "sister", "mother", "daughter", "wife", "aunt", "queen"}


class FemaleFlipClassifier(AnswersOnlyWhatItSupports):
    """Says 'b' exactly when the text contains a female term, else 'a'."""
    supports = frozenset({ClassifyRequest})

    def __init__(self):
        self.info = ModelInfo(kind="planted", device="cpu", dtype="none", parameters=0, labels=("a", "b"))

    def token_count(self, text):
        return len(text.split())

    def classify(self, requests):
        out = []
        for r in requests:
            female = any(w.strip(".,!?").lower() in FEMALE for w in r.text.split())
            out.append(Classification(label="b" if female else "a", probs={"a": 0.0 if female else 1.0, "b": 1.0 if female else 0.0}))
        return out


VOCABULARY = {"the", "food", "was", "good", "bad", "very", "service", "really", "quite", "today", "meal", "tasted"}


class TypoFragileClassifier(AnswersOnlyWhatItSupports):
    """'pos' when the text ends with '!', else 'neg' (typos never touch punctuation) - but the other
    label as soon as any word is outside VOCABULARY, so every input with a typo fails."""
    supports = frozenset({ClassifyRequest})

    def __init__(self):
        self.info = ModelInfo(kind="planted", device="cpu", dtype="none", parameters=0, labels=("neg", "pos"))

    def token_count(self, text):
        return len(text.split())

    def classify(self, requests):
        out = []
        for r in requests:
            words = [w.strip(".!").lower() for w in r.text.split()]
            label = "pos" if r.text.rstrip().endswith("!") else "neg"
            if any(w not in VOCABULARY for w in words):
                label = "neg" if label == "pos" else "pos"
            out.append(Classification(label=label, probs={label: 1.0}))
        return out


class FakeEncoder(AnswersOnlyWhatItSupports):
    """Fixed random unit vectors per text (seeded by the text), exposed as ``vectors``."""
    supports = frozenset()

    def __init__(self):
        self.info = ModelInfo(kind="fake-encoder", device="cpu", dtype="float32", parameters=0)

    def token_count(self, text):
        return len(text.split())

    def vector(self, text):
        import zlib
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        v = rng.normal(size=16)
        return v / np.linalg.norm(v)

    def embed(self, texts):
        return torch.tensor(np.stack([self.vector(t) for t in texts]))


class FemaleEchoGenerator(AnswersOnlyWhatItSupports):
    """Generates the reference word 'x' - or 'y' when the prompt contains a female term."""
    supports = frozenset({GenerateRequest})

    def __init__(self):
        self.info = ModelInfo(kind="planted", device="cpu", dtype="none", parameters=0)

    def token_count(self, text):
        return len(text.split())

    def generate(self, requests):
        return [Generation(text=" y" if any(w.strip(".,").lower() in FEMALE for w in r.context.split()) else " x",
                           n_tokens=1) for r in requests]


class FailsToLoad:
    """A model whose weights cannot be read: raises while it is being built."""

    def __init__(self):
        raise RuntimeError("simulated corrupt weights")


class Misbehaves(AnswersOnlyWhatItSupports):
    """Answers like ShortestChoice, except in the one way ``how`` names:
    nan / inf   NaN (inf) log-likelihoods and probabilities for requests whose text holds 'poison';
    none        returns None instead of a list;   string   returns a string instead of a list;
    int_label   classifies with an int label;      wrong_type   answers with Generation objects;
    count_none  token_count gives None;            raise    raises KeyError('boom')."""
    supports = frozenset({LoglikelihoodRequest, GenerateRequest, ClassifyRequest})

    def __init__(self, how: str = "nan"):
        self.how = how
        self.info = ModelInfo(kind="misbehaving", device="cpu", dtype="none", parameters=0)

    def token_count(self, text):
        return None if self.how == "count_none" else len(text.split())

    def _answer(self, requests, good):
        if self.how == "none":
            return None
        if self.how == "string":
            return "an answer"
        if self.how == "raise":
            raise KeyError("boom")
        if self.how == "wrong_type":
            return [Generation(text="x", n_tokens=1) for _ in requests]
        return [good(r) for r in requests]

    def _bad(self, text):
        return {"nan": float("nan"), "inf": float("inf")}.get(self.how) if "poison" in text else None

    def loglikelihood(self, requests):
        def good(r):
            bad = self._bad(r.context + r.continuation)
            return Loglikelihood(logprob=-float(len(r.continuation)) if bad is None else bad, is_greedy=False, n_tokens=1)
        return self._answer(requests, good)

    def generate(self, requests):
        return self._answer(requests, lambda r: Generation(text=r.context.split()[-1], n_tokens=1))

    def classify(self, requests):
        def good(r):
            bad = self._bad(r.text)
            label = 1 if self.how == "int_label" else "a"
            return Classification(label=label, probs={"a": 1.0 if bad is None else bad, "b": 0.0})
        return self._answer(requests, good)


class FailsWhileFlagged(ShortestChoice):
    """ShortestChoice that raises ValueError on every call after the ``fail_after``-th while the file
    ``flag`` exists: a passing fault, which a resume after the flag is removed no longer meets."""

    def __init__(self, flag: str, fail_after: str = "0"):
        super().__init__()
        self.flag, self.after = flag, int(fail_after)

    def _check(self, requests):
        super()._check(requests)
        import os
        if os.path.exists(self.flag) and len(self.batch_sizes) > self.after:
            raise ValueError("simulated passing fault")


class PlantedFlips(AnswersOnlyWhatItSupports):
    """Classifies a text "item N: ... label L" as L - except for the items listed in ``wrong``
    (dash-separated numbers), which get the other label: a variant that flips exactly those items.
    ``echo=1`` also generates the text after "label" (for generate tasks)."""
    supports = frozenset({ClassifyRequest, GenerateRequest})

    def __init__(self, wrong: str = ""):
        self.wrong = {int(x) for x in wrong.split("-") if x}
        self.info = ModelInfo(kind="planted", device="cpu", dtype="none", parameters=0, labels=("a", "b"))

    def token_count(self, text):
        return len(text.split())

    def _answer(self, text: str) -> str:
        number = int(text.split("item ", 1)[1].split(":", 1)[0])
        label = text.rsplit("label ", 1)[1].split()[0]
        return ("b" if label == "a" else "a") if number in self.wrong else label

    def classify(self, requests):
        return [Classification(label=self._answer(r.text), probs={"a": 0.5, "b": 0.5}) for r in requests]

    def generate(self, requests):
        return [Generation(text=" " + self._answer(r.context), n_tokens=1) for r in requests]


class Echo(AnswersOnlyWhatItSupports):
    """Generates its whole prompt back (the report's escaping tests plant markup in the data)."""
    supports = frozenset({GenerateRequest})

    def __init__(self):
        self.info = ModelInfo(kind="echo", device="cpu", dtype="none", parameters=0)

    def token_count(self, text):
        return len(text.split())

    def generate(self, requests):
        return [Generation(text=r.context, n_tokens=len(r.context.split())) for r in requests]


class EchoAfterMarker(AnswersOnlyWhatItSupports):
    """Generates whatever follows the last "ECHO " in the context (planted outputs), else "nothing"."""
    supports = frozenset({GenerateRequest})

    def __init__(self):
        self.info = ModelInfo(kind="echo", device="cpu", dtype="none", parameters=0)

    def token_count(self, text: str) -> int:
        return len(text.split())

    def generate(self, requests):
        return [Generation(text=r.context.rsplit("ECHO ", 1)[1].split("\n")[0] if "ECHO " in r.context else "nothing",
                           n_tokens=1) for r in requests]


class Drifting(ShortestChoice):
    """ShortestChoice whose generations change from one call to the next (a model that does not decode
    deterministically): the measurement protocol's repeats then see outputs that differ."""

    calls = 0

    def generate(self, requests):
        self._check(requests)
        Drifting.calls += 1
        return [Generation(text=f"{r.context.split()[-1]} {Drifting.calls}", n_tokens=2) for r in requests]
