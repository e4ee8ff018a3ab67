"""meteor: nltk's ``meteor_score`` (Banerjee & Lavie 2005; exact, Porter-stem and WordNet-synonym
matches, alpha 0.9, beta 3, gamma 0.5), averaged over examples as Hugging Face evaluate's meteor does.
Texts are split on whitespace and lower-cased (nltk's default preprocess); nltk's word_tokenize
would need its punkt data, which is a download.

The synonym stage needs WordNet 3.0, which is a download for nltk. It is read from the first of:
nltk's own ``corpora/wordnet`` (if nltk_data has it), the folder in $HARNESS_WORDNET, or
/usr/share/wordnet (Debian's ``wordnet-base`` package: the Princeton WordNet 3.0 database files
under the WordNet license). That folder lacks the 45-line ``lexnames`` file nltk's reader opens
first; it is the fixed list of lexicographer files of WordNet 3.0 (lexnames(5WN)), given below.
Without any of them the metric reads ``not_measured`` with that reason, never 0.
"""
from __future__ import annotations

import io
import os
import warnings
from functools import lru_cache
from pathlib import Path

from harness.metrics.base import TEXT, MeanMetric

LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()
_POS = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
DEBIAN_WORDNET = Path("/usr/share/wordnet")


def _dict_folder_reader(root: Path):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))             # nltk reads corpora only under its data path

    class DictFolderWordNet(WordNetCorpusReader):
        """nltk's reader over a WordNet 3.0 dict/ folder, serving the lexnames list it lacks."""
        def open(self, file):
            if file == "lexnames" and not (root / "lexnames").is_file():
                return io.StringIO("".join(f"{i:02d}\t{name}\t{_POS[name.split('.')[0]]}\n"
                                           for i, name in enumerate(LEXNAMES)))
            return super().open(file)

        def map_wn(self, version="wordnet"):
            return None      # the mapping to nltk's own copy is for Open Multilingual Wordnet data only

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # "multilingual functions are not available": not needed
        return DictFolderWordNet(str(root), None)


@lru_cache(maxsize=1)
def wordnet() -> tuple[object | None, str]:
    """(reader, where it came from), or (None, why there is none)."""
    import nltk
    try:
        nltk.data.find("corpora/wordnet")
        from nltk.corpus import wordnet as nltk_wordnet
        return nltk_wordnet, "nltk_data corpora/wordnet"
    except LookupError:
        pass
    candidates = [Path(os.environ["HARNESS_WORDNET"])] if os.environ.get("HARNESS_WORDNET") else []
    for root in [*candidates, DEBIAN_WORDNET]:
        if (root / "data.noun").is_file() and (root / "index.noun").is_file():
            return _dict_folder_reader(root), str(root)
    return None, ("METEOR needs WordNet 3.0 and none was found (no nltk_data corpora/wordnet, no $HARNESS_WORDNET, no "
                  "/usr/share/wordnet); install Debian's wordnet-base (apt-get install wordnet-base) or point "
                  "HARNESS_WORDNET at a WordNet 3.0 dict folder")


class Meteor(MeanMetric):
    name_ = "meteor"
    fits = TEXT
    description_ = "Mean sentence METEOR (nltk.translate.meteor_score, WordNet 3.0 synonyms), 0-1."

    @classmethod
    def unavailable(cls) -> str | None:
        return wordnet()[1] if wordnet()[0] is None else None

    @staticmethod
    def example_score(prediction: str, reference: str) -> float:
        from nltk.translate.meteor_score import meteor_score
        reader, why = wordnet()
        if reader is None:
            raise RuntimeError(why)
        return float(meteor_score([reference.split()], prediction.split(), wordnet=reader))
