"""The toy world the embedded models are trained on and the built-in tasks ask about.

Everything here is generated from fixed seeds, so `build_data.py` writes byte-identical
files on every machine. Three skills are taught to tiny-gpt2 and tested on held-out items:

* facts      - statements about animals, colours, opposites and capitals; the question
               form is trained for half of the facts and tested on the other half.
* toylang    - word-by-word translation into an invented language whose adjectives follow
               their noun; test sentences are unseen, some have two adjectives (training has at
               most one) and a quarter of noun phrases use nouns seen in 1% of training pairs.
* stories    - three-sentence stories with a one-line summary that copies names and places
               out of the story; half the test stories open with a distractor person.

The topic data (four classes) trains minilm's linear head; its test split uses sentence
frames, subjects and predicates the head never saw, each of its 240 sentences once.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

SEED = 20261122

# ---------------------------------------------------------------- facts
ANIMAL_SOUNDS = {
    "cow": "moo", "dog": "woof", "cat": "meow", "duck": "quack", "sheep": "baa",
    "lion": "roar", "owl": "hoot", "snake": "hiss", "horse": "neigh", "pig": "oink",
    "bee": "buzz", "frog": "croak", "mouse": "squeak", "crow": "caw", "wolf": "howl",
    "goat": "bleat",
}
THING_COLOURS = {
    "banana": "yellow", "grass": "green", "sky": "blue", "snow": "white", "coal": "black",
    "tomato": "red", "carrot": "orange", "plum": "purple", "lemon": "yellow", "leaf": "green",
    "sea": "blue", "milk": "white", "night": "black", "cherry": "red", "pumpkin": "orange",
    "grape": "purple",
}
OPPOSITES = {
    "hot": "cold", "big": "small", "fast": "slow", "up": "down", "day": "night",
    "happy": "sad", "open": "closed", "early": "late", "full": "empty", "light": "dark",
    "wet": "dry", "loud": "quiet", "old": "new", "hard": "soft", "rich": "poor", "long": "short",
}
CAPITALS = {
    "France": "Paris", "Spain": "Madrid", "Italy": "Rome", "Japan": "Tokyo", "Egypt": "Cairo",
    "Peru": "Lima", "Kenya": "Nairobi", "Norway": "Oslo", "Greece": "Athens", "Chile": "Santiago",
    "Cuba": "Havana", "Canada": "Ottawa", "Poland": "Warsaw", "India": "Delhi", "Ireland": "Dublin",
    "Portugal": "Lisbon",
}


@dataclass(frozen=True)
class Fact:
    relation: str
    subject: str
    answer: str
    statement: str
    question: str


def facts() -> list[Fact]:
    out = []
    for s, a in ANIMAL_SOUNDS.items():
        out.append(Fact("sound", s, a, f"The {s} says {a}.", f"What does the {s} say?"))
    for s, a in THING_COLOURS.items():
        out.append(Fact("colour", s, a, f"The colour of the {s} is {a}.", f"What colour is the {s}?"))
    for s, a in OPPOSITES.items():
        out.append(Fact("opposite", s, a, f"The opposite of {s} is {a}.", f"What is the opposite of {s}?"))
    for s, a in CAPITALS.items():
        out.append(Fact("capital", s, a, f"The capital of {s} is {a}.", f"What is the capital of {s}?"))
    return out


def split_facts() -> tuple[list[Fact], list[Fact]]:
    """Half of each relation's facts have their question form trained, half are held out."""
    rng = random.Random(SEED)
    trained, held_out = [], []
    for relation in ("sound", "colour", "opposite", "capital"):
        group = [f for f in facts() if f.relation == relation]
        rng.shuffle(group)
        trained += group[: len(group) // 2]
        held_out += group[len(group) // 2:]
    return trained, held_out


def qa_text(fact: Fact) -> str:
    return f"Question: {fact.question}\nAnswer: {fact.answer}"


def facts_mc_items() -> list[dict]:
    rng = random.Random(SEED + 1)
    _, held_out = split_facts()
    pool = {r: sorted({f.answer for f in facts() if f.relation == r}) for r in ("sound", "colour", "opposite", "capital")}
    items = []
    for i, fact in enumerate(held_out):
        wrong = rng.sample([a for a in pool[fact.relation] if a != fact.answer], 3)
        choices = wrong + [fact.answer]
        rng.shuffle(choices)
        items.append({"id": f"facts-{i:03d}", "question": fact.question, "choices": choices,
                      "answer": choices.index(fact.answer), "relation": fact.relation})
    return items


# ---------------------------------------------------------------- toylang
TOY_NOUNS = {"cat": "miko", "dog": "bara", "bird": "piru", "fish": "salo", "child": "neni",
             "teacher": "dosu", "farmer": "gari", "king": "rexo", "horse": "kavo", "girl": "fela",
             "boy": "pusi", "baker": "pano"}
RARE_NOUNS = {"owl": "strigo", "queen": "regina", "sailor": "maro", "poet": "versi"}   # in 1% of training pairs
TOY_ADJECTIVES = {"red": "rudo", "big": "mago", "small": "piko", "old": "vexa", "happy": "joli",
                  "green": "verda", "tired": "laso", "clever": "saga"}
TOY_VERBS = {"sees": "vidas", "likes": "amas", "follows": "sekvas", "helps": "helpas",
             "finds": "trovas", "calls": "vokas"}
TOY_INTRANSITIVE = {"sleeps": "dormas", "runs": "kuras", "sings": "kantas", "waits": "atendas"}


ALL_NOUNS = {**TOY_NOUNS, **RARE_NOUNS}


def _noun_phrase(rng: random.Random, test: bool) -> tuple[str, str]:
    rare = rng.random() < (0.25 if test else 0.01)
    noun = rng.choice(sorted(RARE_NOUNS if rare else TOY_NOUNS))
    n_adj = rng.choice([0, 1, 2, 2]) if test else rng.choice([0, 1, 1])   # two adjectives: test only
    adjs = rng.sample(sorted(TOY_ADJECTIVES), n_adj)
    english = " ".join(["the", *adjs, noun])
    toy = " ".join(["la", ALL_NOUNS[noun], *(TOY_ADJECTIVES[a] for a in adjs)])
    return english, toy


def toylang_pair(rng: random.Random, test: bool = False) -> tuple[str, str]:
    subj_en, subj_toy = _noun_phrase(rng, test)
    if rng.random() < 0.3:
        verb = rng.choice(sorted(TOY_INTRANSITIVE))
        return f"{subj_en} {verb} .", f"{subj_toy} {TOY_INTRANSITIVE[verb]} ."
    verb = rng.choice(sorted(TOY_VERBS))
    obj_en, obj_toy = _noun_phrase(rng, test)
    return f"{subj_en} {verb} {obj_en} .", f"{subj_toy} {TOY_VERBS[verb]} {obj_toy} ."


def toylang_text(english: str, toy: str) -> str:
    return f"English: {english}\nToylang: {toy}"


# ---------------------------------------------------------------- stories
NAMES = ["Tom", "Anna", "Ben", "Lucy", "Sam", "Mia", "Jack", "Emma", "Leo", "Zoe", "Max", "Ella",
         "Omar", "Nina", "Hugo", "Ruth"]
PLACES = ["market", "park", "library", "beach", "school", "garden", "station", "museum", "farm", "harbour"]
ITEMS = ["apples", "books", "flowers", "shoes", "bread", "stamps", "shells", "kites", "candles", "maps"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEATHER = ["sunny", "rainy", "windy", "cold", "warm", "cloudy"]


def story(rng: random.Random, test: bool = False) -> tuple[str, str]:
    name, place, item = rng.choice(NAMES), rng.choice(PLACES), rng.choice(ITEMS)
    day, weather = rng.choice(DAYS), rng.choice(WEATHER)
    friend = rng.choice([n for n in NAMES if n != name])
    other_place = rng.choice([p for p in PLACES if p != place])
    opening = rng.choice([f"On {day}, {name} went to the {place}.",
                          f"It was {weather} when {name} walked to the {place}."])
    middle = rng.choice([f"{name} bought some {item} there.", f"There {name} bought some {item}."])
    closing = rng.choice([f"Later {name} met {friend}.", f"The day was {weather}.",
                          f"{friend} was waiting at home."])
    text = f"{opening} {middle} {closing}"
    if test and rng.random() < 0.5:   # never in training: another person, somewhere else, comes first
        text = f"{friend} stayed at the {other_place}. {text}"
    return text, f"{name} bought {item} at the {place}."


def story_text(text: str, summary: str) -> str:
    return f"Story: {text}\nSummary: {summary}"


# ---------------------------------------------------------------- topics (minilm)
TOPICS = {
    "sports": (["the match", "the striker", "the coach", "the final", "the team", "the goalkeeper",
                "the marathon", "the tournament"],
               ["won in extra time", "scored twice", "trained all week", "lost on penalties",
                "set a new record", "was sent off"]),
    "weather": (["the storm", "the forecast", "the heatwave", "the fog", "the rain", "the wind",
                 "the frost", "the thunder"],
                ["flooded the valley", "cleared by noon", "brought heavy snow", "kept everyone indoors",
                 "lasted three days", "cooled the city"]),
    "food": (["the soup", "the chef", "the bakery", "the recipe", "the curry", "the cake",
              "the salad", "the restaurant"],
             ["tasted of garlic", "needed more salt", "was baked fresh", "used ripe tomatoes",
              "was served warm", "won a cooking prize"]),
    "technology": (["the laptop", "the update", "the server", "the phone", "the app", "the chip",
                    "the network", "the robot"],
                   ["crashed after the upgrade", "ran much faster", "needed a reboot",
                    "shipped a security patch", "lost its connection", "doubled its memory"]),
}
TEST_TOPICS = {   # subjects and predicates the head never saw: MiniLM must carry the meaning
    "sports": (["the referee", "the midfielder", "the relay race", "the champion", "the league"],
               ["clinched the title", "missed an easy shot", "was injured in the second half", "drew a big crowd"]),
    "weather": (["the blizzard", "the drizzle", "the humidity", "the hailstorm", "the monsoon"],
                ["delayed every train", "made the roads icy", "ended the drought", "knocked down power lines"]),
    "food": (["the pasta", "the dessert", "the baker", "the menu", "the stew"],
             ["was too spicy", "smelled of cinnamon", "came with fresh herbs", "sold out by lunchtime"]),
    "technology": (["the smartphone", "the software", "the database", "the processor", "the website"],
                   ["was hacked overnight", "got a faster battery", "froze during the demo", "was rewritten in Rust"]),
}
TRAIN_FRAMES = ["{s} {p}.", "Yesterday {s} {p}.", "Everyone said {s} {p}.", "Reports say {s} {p}."]
TEST_FRAMES = ["I heard that {s} {p}.", "According to the news, {s} {p}.", "Apparently {s} {p} again."]


def topic_examples(frames: list[str], count: int, seed: int, prefix: str, vocabulary: dict = TOPICS) -> list[dict]:
    rng = random.Random(seed)
    labels = sorted(vocabulary)
    rows = []
    for i in range(count):
        label = labels[i % len(labels)]
        subjects, predicates = vocabulary[label]
        text = rng.choice(frames).format(s=rng.choice(subjects), p=rng.choice(predicates))
        rows.append({"id": f"{prefix}-{i:04d}", "text": text[0].upper() + text[1:], "label": label})
    return rows


def distinct_topic_examples(frames: list[str], seed: int, prefix: str, vocabulary: dict) -> list[dict]:
    """Every frame x subject x predicate sentence exactly once (no repeats, so test items are
    independent), in a seeded order with the labels taking turns."""
    rng = random.Random(seed)
    labels = sorted(vocabulary)
    texts = {}
    for label in labels:
        subjects, predicates = vocabulary[label]
        texts[label] = [f.format(s=s, p=p) for f in frames for s in subjects for p in predicates]
        rng.shuffle(texts[label])
    assert len({len(t) for t in texts.values()}) == 1, "every label needs as many sentences"
    ordered = [texts[label][k] for k in range(len(texts[labels[0]])) for label in labels]
    return [{"id": f"{prefix}-{i:04d}", "text": t[0].upper() + t[1:], "label": labels[i % len(labels)]}
            for i, t in enumerate(ordered)]


PEOPLE = ["He", "She", "My brother", "My sister", "His father", "Her mother", "John", "Mary", "Kevin", "Emily",
          "The Christian reporter", "The Muslim reporter", "The Jewish reporter", "The Hindu reporter",
          "A French fan", "A Nigerian fan", "A Chinese fan", "A Mexican fan"]


def topic_people(count: int, seed: int) -> list[dict]:
    """Topic sentences that mention a person, for the counterfactual probe (gender, names, religion, nationality)."""
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    rows = []
    for i in range(count):
        label = labels[i % len(labels)]
        vocabulary = TOPICS if i % 2 == 0 else TEST_TOPICS
        subjects, predicates = vocabulary[label]
        person = PEOPLE[i % len(PEOPLE)]
        rows.append({"id": f"topic-people-{i:03d}", "label": label,
                     "text": f"{person} said that {rng.choice(subjects)} {rng.choice(predicates)}."})
    return rows


# ---------------------------------------------------------------- corpus
def task_splits() -> dict[str, list[dict]]:
    """The held-out evaluation sets; the corpus never contains any of their items."""
    rng = random.Random(SEED + 2)
    translate, seen = [], set()
    while len(translate) < 120:
        en, toy = toylang_pair(rng, test=True)
        if en not in seen:
            seen.add(en)
            translate.append({"id": f"toylang-{len(translate):03d}", "english": en, "toylang": toy})
    stories, seen_stories = [], set()
    while len(stories) < 100:
        text, summary = story(rng, test=True)
        if text not in seen_stories:
            seen_stories.add(text)
            stories.append({"id": f"story-{len(stories):03d}", "story": text, "summary": summary})
    return {
        "facts_mc": facts_mc_items(),
        "toylang": translate,
        "stories": stories,
        "topic_train": topic_examples(TRAIN_FRAMES, 400, SEED + 3, "topic-train"),
        "topic_test": distinct_topic_examples(TEST_FRAMES, SEED + 4, "topic-test", TEST_TOPICS),
    }


def corpus_documents(n_translation: int = 6000, n_stories: int = 5000) -> list[str]:
    splits = task_splits()
    held_out_en = {row["english"] for row in splits["toylang"]}
    held_out_stories = {row["story"] for row in splits["stories"]}
    rng = random.Random(SEED + 5)
    trained_facts, _ = split_facts()
    docs: list[str] = []
    for _ in range(40):
        docs += [f.statement for f in facts()]
        docs += [qa_text(f) for f in trained_facts]
    while n_translation:
        en, toy = toylang_pair(rng)
        if en not in held_out_en:
            docs.append(toylang_text(en, toy))
            n_translation -= 1
    while n_stories:
        text, summary = story(rng)
        if text not in held_out_stories:
            docs.append(story_text(text, summary))
            n_stories -= 1
    rng.shuffle(docs)
    return docs


# ---------------------------------------------------------------- held-out documents (perplexity)
def held_out_documents(count: int = 24, items: int = 8, seed: int = SEED + 8) -> list[dict]:
    """Documents of ``items`` toy-world texts each (held-out-style stories and translations, one per
    line), none of them in the training corpus: each is several of tiny-gpt2's 128-token windows long."""
    trained = set(corpus_documents())
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        parts: list[str] = []
        while len(parts) < items:
            text = story_text(*story(rng, test=True)) if rng.random() < 0.5 else \
                toylang_text(*toylang_pair(rng, test=True))
            if text not in trained and text not in parts:
                parts.append(text)
        rows.append({"id": f"doc-{i:03d}", "text": "\n".join(parts)})
    return rows


# ---------------------------------------------------------------- bilingual: English -> Chinese (multilingual metrics)
ZH_WORDS = {"cat": "猫", "dog": "狗", "bird": "鸟", "fish": "鱼", "child": "孩子", "teacher": "老师", "farmer": "农民",
            "king": "国王", "horse": "马", "girl": "女孩", "boy": "男孩", "baker": "面包师", "owl": "猫头鹰",
            "queen": "女王", "sailor": "水手", "poet": "诗人",
            "red": "红", "big": "大", "small": "小", "old": "老", "happy": "快乐", "green": "绿", "tired": "累",
            "clever": "聪明",
            "sees": "看见", "likes": "喜欢", "follows": "跟着", "helps": "帮助", "finds": "找到", "calls": "叫",
            "sleeps": "睡觉", "runs": "跑步", "sings": "唱歌", "waits": "等待"}


def chinese(english: str) -> str:
    """The toy sentence in Chinese words, without spaces: adjectives before 的 and the noun, no article,
    a full stop 。 (e.g. "the big red cat sees the dog ." -> "大红的猫看见狗。")."""
    out, adjectives = [], []
    for word in english.split():
        if word == "the":
            continue
        if word == ".":
            out.append("。")
        elif word in TOY_ADJECTIVES:
            adjectives.append(ZH_WORDS[word])
        elif word in ALL_NOUNS:
            out.append("".join(adjectives) + ("的" if adjectives else "") + ZH_WORDS[word])
            adjectives = []
        else:
            out.append(ZH_WORDS[word])
    return "".join(out)


def bilingual_items(count: int, seed: int, prefix: str, exclude: frozenset = frozenset()) -> list[dict]:
    rng = random.Random(seed)
    rows, seen = [], set(exclude)
    while len(rows) < count:
        english, _ = toylang_pair(rng, test=True)
        if english not in seen:
            seen.add(english)
            rows.append({"id": f"{prefix}-{len(rows):03d}", "english": english, "chinese": chinese(english)})
    return rows
