"""What a run is: frozen values parsed from the CLI and from task and probe YAML, validated with clear
messages. Nothing below `harness run`'s command line reads its argparse Namespace: it reads these."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.data import DataSource
from harness.errors import HarnessError

# ------------------------------------------------------------------ tasks


@dataclass(frozen=True)
class TaskConfig:
    """One evaluation task: a dataset, a prompt, a task kind and its metrics."""
    name: str
    kind: str                                # multiple_choice | generate | classify | a plugin kind
    data: DataSource
    prompt: str = "{text}"                   # template; Jinja2 when it holds {{ }}, else a format string
    description: str = ""
    answer: str = "answer"                   # field with the gold answer (choice index or text, reference, label)
    choices: str = "choices"                 # multiple_choice: field with the list of choices
    answer_type: str = ""                    # multiple_choice: index | text; "": an int is an index, a string a text
    labels: tuple[str, ...] = ()             # classify: the label set (defaults to the labels seen in the data)
    stop: tuple[str, ...] = ("\n",)          # generate: stop sequences
    max_tokens: int = 64                     # generate: cap on new tokens
    tokenize: str = ""                       # BLEU's sacrebleu tokenizer (13a, zh, ja-mecab, char, ...); "": 13a
    normalize: str = ""                      # generate: NFC | NFKC Unicode normalization of predictions and references
    stride: int | None = None                # perplexity: tokens each rolling window predicts (None: a whole window)
    fewshot_data: DataSource | None = None
    num_fewshot: int = 0
    fewshot_fixed: bool = False              # the same shots for every example (one shared, cacheable prefix)
    fewshot_delimiter: str = "\n\n"
    target_delimiter: str = " "
    metrics: tuple[str, ...] = ()            # empty: the kind's defaults
    source: str = ""                         # where it was defined (a YAML path or a Python module)


_TASK_KEYS = {"name", "kind", "description", "data", "prompt", "answer", "answer_type", "choices", "labels", "stop",
              "max_tokens", "stride", "tokenize", "normalize", "fewshot", "fewshot_delimiter", "target_delimiter", "metrics"}
_FEWSHOT_KEYS = {"data", "num", "fixed"}
ANSWER_TYPES = ("index", "text")
NORMALIZATIONS = ("NFC", "NFKC")


def _fail_key(owner: str, key: str, allowed: set[str]) -> HarnessError:
    from harness.suggest import did_you_mean
    return HarnessError(f"{owner}: unknown key {key!r}",
                        did_you_mean(key, allowed, f"allowed keys: {', '.join(sorted(allowed))}", n=1, shown=repr))


def _data_source(value: Any, base: Path, owner: str) -> DataSource:
    if isinstance(value, str):
        return DataSource(path=(base / value))
    if isinstance(value, Mapping):
        allowed = {"path", "datasets", "id_field"}
        for key in value:
            if key not in allowed:
                raise _fail_key(f"{owner} data", key, allowed)
        id_field = _text(value, "id_field", "id", f"{owner} data")
        if "path" in value:
            return DataSource(path=base / _text(value, "path", "", f"{owner} data"), id_field=id_field)
        if isinstance(value.get("datasets"), Mapping) and "path" in value["datasets"]:
            return DataSource(hf=_local_files(dict(value["datasets"]), base), id_field=id_field)
    raise HarnessError(f"{owner}: `data` must be a file path or {{path: FILE}} or {{datasets: {{path: NAME, split: S}}}}",
                       "fix the `data` entry in the task YAML")


def _local_files(hf: dict, base: Path) -> dict:
    """A `datasets` spec's data_files and data_dir, like `data.path`, start at the YAML file's folder."""
    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            return value if "://" in value or Path(value).expanduser().is_absolute() else str(base / value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, Mapping):
            return {k: resolve(v) for k, v in value.items()}
        return value
    return {k: resolve(v) if k in ("data_files", "data_dir") else v for k, v in hf.items()}


def _count(value: Any, owner: str, key: str, low: int) -> int:
    """A whole number >= low from YAML: 1.9, true and "3" are refused, not rounded or read as 1."""
    if type(value) is not int or value < low:
        raise HarnessError(f"{owner}: `{key}` must be a whole number of at least {low}, got {value!r}",
                           f"fix `{key}` in the task YAML")
    return value


def _text(raw: Mapping, key: str, default: str, owner: str) -> str:
    """A key that holds text: a number, list or null is refused rather than read as its Python
    spelling (`name:` left empty would run a task named "None"; a list becomes its repr)."""
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise HarnessError(f"{owner}: `{key}` must be a string, got {_describe(value)}",
                           f"write `{key}:` as text (quote it, e.g. {key}: \"...\", if YAML reads it as something else)")
    return value


def _printable_name(name: str, owner: str) -> None:
    """A name is printed in the terminal summary, CI logs and report headings: a control or
    bidirectional-format character in it (an ANSI escape, U+202E) would act there instead of showing."""
    import unicodedata
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")), None)
    if bad is not None:
        raise HarnessError(f"{owner}: the name {name[:80]!r} holds the control character U+{ord(bad):04X}",
                           "name it with printable characters (letters, digits, _ - .)")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'mapping'} of {len(value)} items"
    return f"{repr(value)[:60]} (type {type(value).__name__})"


def _str_tuple(value: Any, owner: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise HarnessError(f"{owner}: `{key}` must be a string or a list of strings", f"fix `{key}` in the task YAML")


def piece_name(raw: Mapping, owner: str, what: str) -> str:
    """A task's or probe's `name:`: printable text that --tasks/--probes can select (no comma) and
    that no probe's records can be mistaken for (samples.jsonl files probe items under "probe:NAME")."""
    name = _text(raw, "name", "", owner)
    problem = ("is empty" if not name.strip() else "holds a comma" if "," in name else
               "starts with 'probe:' (reserved for probe records)" if name.startswith("probe:") else
               "has leading or trailing spaces" if name != name.strip() else None)
    if problem:
        raise HarnessError(f"{owner}: `name` {name!r} {problem}", f"write a plain name, e.g. `name: my_{what}`")
    _printable_name(name, owner)
    return name


def task_from_mapping(raw: Any, base: Path, source: str) -> TaskConfig:
    owner = f"task file {source}"
    if not isinstance(raw, Mapping):
        raise HarnessError(f"{owner} does not hold a mapping", "write `name:`, `kind:`, `data:` ... at the top level")
    for key in raw:
        if key not in _TASK_KEYS:
            raise _fail_key(owner, str(key), _TASK_KEYS)
    for key in ("name", "kind", "data"):
        if key not in raw:
            raise HarnessError(f"{owner}: missing required key {key!r}", f"add `{key}:` to the file")
    name = piece_name(raw, owner, "task")
    owner = f"task {name!r} ({source})"
    texts = {key: _text(raw, key, default, owner) for key, default in (
        ("kind", ""), ("prompt", "{text}"), ("description", ""), ("answer", "answer"), ("choices", "choices"),
        ("fewshot_delimiter", "\n\n"), ("target_delimiter", " "))}
    stop = _str_tuple(raw.get("stop", ["\n"]), owner, "stop")
    if "" in stop:
        raise HarnessError(f"{owner}: `stop` holds an empty string, which is no stop sequence",
                           "remove it (write `stop: []` to generate up to max_tokens)")
    fewshot = raw.get("fewshot") or {}
    if not isinstance(fewshot, Mapping):
        raise HarnessError(f"{owner}: `fewshot` must be {{data: FILE, num: N, fixed: BOOL}}", "fix `fewshot` in the task YAML")
    for key in fewshot:
        if key not in _FEWSHOT_KEYS:
            raise _fail_key(f"{owner} fewshot", str(key), _FEWSHOT_KEYS)
    num_fewshot = _count(fewshot.get("num", 0), owner, "fewshot.num", 0)
    fixed = fewshot.get("fixed", False)
    if type(fixed) is not bool:
        raise HarnessError(f"{owner}: `fewshot.fixed` must be true or false, got {fixed!r}",
                           "write `fixed: true` (the same shots for every example) or `fixed: false` (drawn per example)")
    max_tokens = _count(raw.get("max_tokens", 64), owner, "max_tokens", 1)
    stride = None if raw.get("stride") is None else _count(raw["stride"], owner, "stride", 1)
    normalize = raw.get("normalize", "")
    if normalize not in ("", *NORMALIZATIONS):
        raise HarnessError(f"{owner}: `normalize` must be NFC or NFKC, got {normalize!r}",
                           "write `normalize: NFC` (canonical composition) or `normalize: NFKC` (also folds "
                           "compatibility forms such as full-width letters), or leave it out")
    tokenize = raw.get("tokenize", "")
    if not isinstance(tokenize, str):
        raise HarnessError(f"{owner}: `tokenize` must be a tokenizer name, got {tokenize!r}",
                           "write e.g. `tokenize: zh`")
    answer_type = raw.get("answer_type", "")
    if answer_type not in ("", *ANSWER_TYPES):
        raise HarnessError(f"{owner}: `answer_type` must be index or text, got {answer_type!r}",
                           "write `answer_type: index` (the answer is a choice's position) or `answer_type: text`, "
                           "or leave it out (an int answer is an index, a string is a choice's text)")
    return TaskConfig(
        name=name, kind=texts["kind"], data=_data_source(raw["data"], base, owner),
        prompt=texts["prompt"], description=texts["description"],
        answer=texts["answer"], choices=texts["choices"], answer_type=answer_type,
        labels=_str_tuple(raw.get("labels", []), owner, "labels"), stop=stop,
        max_tokens=max_tokens, stride=stride, tokenize=tokenize, normalize=normalize,
        fewshot_data=_data_source(fewshot["data"], base, owner) if "data" in fewshot else None,
        num_fewshot=num_fewshot, fewshot_fixed=fixed, fewshot_delimiter=texts["fewshot_delimiter"],
        target_delimiter=texts["target_delimiter"],
        metrics=_str_tuple(raw.get("metrics", []), owner, "metrics"), source=source)


def read_yaml(path: Path) -> Any:
    from harness.yamlfile import read_yaml as read
    return read(path)


def load_task_file(path: Path) -> TaskConfig:
    return task_from_mapping(read_yaml(path), path.parent, str(path))


@dataclass(frozen=True)
class ProbeConfig:
    """One probe file: which registered probe runs (``probe``), on what, with which parameters."""
    name: str
    probe: str                               # the registered probe plugin
    description: str = ""
    tasks: tuple[str, ...] = ()              # task-based probes: whose inputs to use (empty: all the model ran)
    data: Mapping[str, Path] = field(default_factory=dict)   # named data files, relative to the YAML
    limit: int | None = None                 # default number of items (the --probe-limit flag overrides; 0 = all)
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


_PROBE_KEYS = {"name", "probe", "description", "tasks", "data", "limit", "params"}


def probe_from_mapping(raw: Mapping, base: Path, source: str) -> ProbeConfig:
    owner = f"probe file {source}"
    for key in raw:
        if key not in _PROBE_KEYS:
            raise _fail_key(owner, str(key), _PROBE_KEYS)
    if "name" not in raw:
        raise HarnessError(f"{owner}: missing required key 'name'", "add `name:` to the file")
    texts = {"name": piece_name(raw, owner, "probe"), **{key: _text(raw, key, "", owner) for key in ("probe", "description")}}
    data = raw.get("data") or {}
    if not isinstance(data, Mapping) or not all(isinstance(v, str) for v in data.values()):
        raise HarnessError(f"{owner}: `data` must map names to files", "write e.g. `data: {pairs: pairs.jsonl}`")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        raise HarnessError(f"{owner}: `params` must be a mapping", "write `params:` followed by key: value lines")
    limit = raw.get("limit")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise HarnessError(f"{owner}: `limit` must be a whole number", "write e.g. `limit: 40` (0 means all)")
    return ProbeConfig(name=texts["name"], probe=texts["probe"], description=texts["description"],
                       tasks=_str_tuple(raw.get("tasks", []), owner, "tasks"),
                       data={str(k): base / str(v) for k, v in data.items()}, limit=limit, params=dict(params),
                       source=source)


# ------------------------------------------------------------------ models


@dataclass(frozen=True)
class ModelSpec:
    """``[NAME=]ADAPTER[:LOCATION][,key=value...]``, e.g. ``tiny-gpt2``, ``hf-causal:/models/gpt2``,
    ``int8=hf-causal:./gpt2-int8,revision=main``."""
    name: str
    adapter: str
    location: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        name = None
        if "=" in text.split(":", 1)[0].split(",", 1)[0]:
            name, text = text.split("=", 1)
            if not name.strip():
                raise HarnessError(f"model spec '={text}' gives an empty name before '='",
                                   f"write NAME={text} (the name used in results and reports), or drop the '='")
        head, *opts = text.split(",")
        adapter, _, location = head.partition(":")
        options = {}
        for opt in opts:
            key, eq, value = opt.partition("=")
            if not eq or not key:
                raise HarnessError(f"model spec {text!r}: option {opt!r} is not key=value",
                                   "write options as ADAPTER:LOCATION,key=value")
            if key in options:
                raise HarnessError(f"model spec {text!r}: option {key!r} is given twice ({options[key]!r} and {value!r})",
                                   f"give {key}= once")
            options[key] = value
        if not adapter:
            raise HarnessError(f"model spec {text!r} names no adapter", "write e.g. hf-causal:/path/to/model")
        _printable_name(name or head, "--model")         # printed in summaries, logs and tune's "run it:" line
        return cls(name=name or head, adapter=adapter, location=location, options=options)


@dataclass(frozen=True)
class RuntimeOptions:
    device: str | None = None        # None: cuda when available, else cpu
    dtype: str | None = None         # None: bf16/fp16 on cuda, fp32 on cpu
    trust_remote_code: bool = False
    batch_size: int | None = None    # None: automatic (start high, halve on out-of-memory)
    max_batch_size: int = 64


@dataclass(frozen=True)
class MeterOptions:
    enabled: bool = True
    names: tuple[str, ...] = ("gpu", "host")   # registered meters to run
    period_s: float = 0.1                      # GPU sampling period
    idle_s: float = 2.0                        # idle baseline before the run (GPU only)
    country: str | None = None                 # ISO 3166 alpha-3, for CodeCarbon's energy-mix intensity
    carbon_intensity: float | None = None      # g CO2e per kWh; wins over country
    pue: float = 1.0
    verbose: bool = False
    gpu: str | None = None                     # the one GPU to meter (a UUID: a torchrun rank's own); None: all visible


MAX_REPEATS = 100      # a 95% interval barely narrows past ~30 repeats; --repeats 99999999999 would never end


@dataclass(frozen=True)
class MeasureOptions:
    """The measurement protocol (harness.protocol): ``repeats`` measured repeats of each model's
    tasks and probes after a warm-up pass that also computes quality (1: one pass, measured and
    scored, as before); windows shorter than ``min_measure_s`` seconds repeat their work until they
    last that long (0: never)."""
    repeats: int = 1
    min_measure_s: float = 0.0


# ------------------------------------------------------------------ run


@dataclass(frozen=True)
class RunSpec:
    models: tuple[ModelSpec, ...]
    tasks: tuple[str, ...]           # empty: every task
    tasks_dirs: tuple[Path, ...] = ()
    limit: int | None = None
    seed: int = 1234
    runtime: RuntimeOptions = RuntimeOptions()
    bootstrap_resamples: int = 1000
    meters: MeterOptions = MeterOptions()
    probes: tuple[str, ...] | None = None    # None: every probe; () : none
    probe_limit: int | None = None           # overrides each probe's default item count; 0 = all items
    baseline: str | None = None              # --baseline: the model every other one is compared with, item by item
    show_pii: bool = False                   # --show-pii: report.html shows personal data instead of [EMAIL], ...
    lm_eval_include: tuple[Path, ...] = ()   # --lm-eval-include: folders of lm-eval YAMLs (harness.lmeval)
    trust_task_code: bool = False            # --trust-task-code: !function in those folders may run
    measure: MeasureOptions = MeasureOptions()   # --repeats, --min-measure-s

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["tasks_dirs"] = [str(p) for p in self.tasks_dirs]
        d["probes"] = None if self.probes is None else list(self.probes)
        d["lm_eval_include"] = [str(p) for p in self.lm_eval_include]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RunSpec":
        return cls(models=tuple(ModelSpec(**m) for m in d["models"]), tasks=tuple(d["tasks"]),
                   tasks_dirs=tuple(Path(p) for p in d["tasks_dirs"]), limit=d["limit"], seed=d["seed"],
                   runtime=RuntimeOptions(**d["runtime"]), bootstrap_resamples=d["bootstrap_resamples"],
                   meters=MeterOptions(**{**d.get("meters", {}), "names": tuple(d.get("meters", {}).get("names", ("gpu", "host")))}),
                   probes=None if d.get("probes") is None else tuple(d["probes"]), probe_limit=d.get("probe_limit"),
                   baseline=d.get("baseline"), show_pii=d.get("show_pii", False) is True,
                   lm_eval_include=tuple(Path(p) for p in d.get("lm_eval_include", ())),
                   trust_task_code=bool(d.get("trust_task_code", False)),
                   measure=MeasureOptions(**d.get("measure", {})))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)


@dataclass(frozen=True)
class RunOptions:
    """`harness run`'s command line, typed once at its edge (harness.commands.run.run_options) and
    handed down to the run and its end (harness.finish), single-process or on a torchrun rank."""
    argv: tuple[str, ...]                    # as given (run.json records it)
    spec: RunSpec | None = None              # a new run's; None with --resume (run.json holds the run's own)
    resume: Path | None = None               # the run folder to finish
    out: Path = Path("reports")              # where a new run's folder is created
    baseline: str | None = None              # with --resume: replaces the run's --baseline (a new run's is spec's)
    progress: bool = True                    # progress bars (on a terminal), unless --no-progress
    consumers: Mapping[str, Any] = field(default_factory=dict)   # each AFTER_RUN consumer's own typed options
