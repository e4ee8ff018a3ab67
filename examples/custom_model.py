"""Evaluate your own torch module: an adapter in about 20 lines.

    harness run --model py:examples.custom_model:KeywordClassifier --tasks topic

The adapter says which request kinds it answers (``supports``) and implements those methods;
harness.models.base.ModelAdapter is the whole protocol. Here the module is a bag-of-words
linear classifier whose weights are set by hand from keyword lists.
"""
import torch

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
from harness.requests import Classification, ClassifyRequest

LABELS = ("food", "sports", "technology", "weather")
KEYWORDS = {"food": "soup chef bakery recipe curry cake salad restaurant", "sports": "match striker coach final team goalkeeper marathon tournament",
            "technology": "laptop update server phone app chip network robot", "weather": "storm forecast heatwave fog rain wind frost thunder"}


class KeywordClassifier(AnswersOnlyWhatItSupports):
    supports = frozenset({ClassifyRequest})

    def __init__(self):
        self.vocab = {w: i for i, w in enumerate(sorted({w for ws in KEYWORDS.values() for w in ws.split()}))}
        self.module = torch.nn.Linear(len(self.vocab), len(LABELS), bias=False)   # your model goes here
        with torch.no_grad():
            self.module.weight.zero_()
            for label, words in KEYWORDS.items():
                for w in words.split():
                    self.module.weight[LABELS.index(label), self.vocab[w]] = 1.0
        self.info = ModelInfo(kind="keyword-bow", device="cpu", dtype="float32", parameters=self.module.weight.numel(),
                              labels=LABELS)

    def token_count(self, text):
        return len(text.split())

    @torch.no_grad()
    def classify(self, requests):
        x = torch.zeros(len(requests), len(self.vocab))
        for row, r in enumerate(requests):
            for w in r.text.lower().replace(".", " ").replace(",", " ").split():
                if w in self.vocab:
                    x[row, self.vocab[w]] += 1
        probs = torch.softmax(self.module(x), -1)
        return [Classification(LABELS[int(p.argmax())], dict(zip(LABELS, p.tolist()))) for p in probs]
