"""The knobs `harness tune` searches, and a configuration as the `--model` spec a user can paste.

A configuration is a batch size (``--batch-size``), a dtype (``dtype=``), a ``quantize=`` recipe and a
``prune=`` amount (harness.models.variants, checked by its own ``recipe_of``) and, only when the user
asked for it with ``--power-limits``, a GPU power limit in watts. The user's spec keeps its name,
adapter, location and other options; its own recipe keys are replaced by the configuration's.

Defaults leave out what cannot run or is known to be slow here: a dtype that harness.slow_dtypes
warns about on this device (float16 on a CPU), and a quantize scheme torchao cannot run on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.models.variants import DTYPE_ALIASES, DTYPE_NAMES, QUANTIZE, VARIANT_KEYS, recipe_of
from harness.spec import ModelSpec, RuntimeOptions

NONE = "none"                          # the choice "no quantize=" as Optuna stores it (a categorical of strings)
BATCH_SIZES = (1, 4, 16, 64)
PRUNE = (0.0, 0.1, 0.25, 0.5)


@dataclass(frozen=True)
class Config:
    """One point of the search space; None: the knob is left at the run's default."""
    batch_size: int | None = None
    dtype: str | None = None
    quantize: str | None = None
    prune: float | None = None
    power_limit_w: int | None = None

    def to_json(self) -> dict:
        return {"batch_size": self.batch_size, "dtype": self.dtype, "quantize": self.quantize, "prune": self.prune,
                "power_limit_w": self.power_limit_w}


def spec_text(base: ModelSpec, config: Config) -> str:
    """The `--model` string of ``base`` with ``config``'s recipe (its own recipe keys dropped)."""
    head = base.adapter + (f":{base.location}" if base.location else "")
    options = {k: v for k, v in base.options.items() if k not in VARIANT_KEYS}
    if config.dtype:
        options["dtype"] = config.dtype
    if config.quantize:
        options["quantize"] = config.quantize
    if config.prune:
        options["prune"] = f"{config.prune:g}"
    named = "" if base.name == head else f"{base.name}="
    return named + ",".join([head, *(f"{k}={v}" for k, v in options.items())])


def command_of(spec: str, config: Config, tasks: tuple[str, ...], limit: int | None) -> str:
    """The `harness run` line that runs a configuration (quoted for a POSIX shell)."""
    import shlex
    words = ["harness", "run", "--model", spec, "--tasks", ",".join(tasks)]
    if config.batch_size:
        words += ["--batch-size", str(config.batch_size)]
    if limit:
        words += ["--limit", str(limit)]
    line = " ".join(shlex.quote(w) for w in words)
    if config.power_limit_w:
        line += f"   # with the GPU's power limit at {config.power_limit_w} W (set by an administrator: nvidia-smi -pl)"
    return line


@dataclass(frozen=True)
class Space:
    """The choices of each knob (a knob with one choice is fixed, not searched)."""
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    dtypes: tuple[str, ...] = ("float32",)
    quantize: tuple[str, ...] = (NONE,)
    prune: tuple[float, ...] = PRUNE
    power_limits_w: tuple[int, ...] = field(default=())

    def suggest(self, trial) -> Config:
        """The configuration an Optuna trial draws (the same parameter names on every trial, so a
        resumed study's sampler reads the earlier ones)."""
        quantize = trial.suggest_categorical("quantize", list(self.quantize))
        power = trial.suggest_categorical("power_limit_w", list(self.power_limits_w)) if self.power_limits_w else None
        return Config(batch_size=trial.suggest_categorical("batch_size", list(self.batch_sizes)),
                      dtype=trial.suggest_categorical("dtype", list(self.dtypes)),
                      quantize=None if quantize == NONE else quantize,
                      prune=float(trial.suggest_categorical("prune", list(self.prune))) or None,
                      power_limit_w=power)

    def configurations(self) -> list[dict]:
        """Every configuration as the Optuna parameters ``suggest`` draws, in a fixed order."""
        import itertools
        knobs = {"quantize": self.quantize, "power_limit_w": self.power_limits_w, "batch_size": self.batch_sizes,
                 "dtype": self.dtypes, "prune": self.prune}
        knobs = {name: list(choices) for name, choices in knobs.items() if choices}
        return [dict(zip(knobs, values)) for values in itertools.product(*knobs.values())]

    @property
    def size(self) -> int:
        """How many configurations the space holds."""
        return len(self.configurations())

    def to_json(self) -> dict:
        return {"batch_size": list(self.batch_sizes), "dtype": list(self.dtypes), "quantize": list(self.quantize),
                "prune": list(self.prune), "power_limit_w": list(self.power_limits_w)}


def _words(text: str | None, flag: str) -> list[str]:
    words = [w.strip() for w in (text or "").split(",")]
    if text is not None and not all(words):
        raise HarnessError(f"{flag} {text!r} holds an empty entry", f"write {flag} A,B,C")
    return words if text is not None else []


def parse_ints(text: str | None, flag: str, low: int, default: tuple[int, ...]) -> tuple[int, ...]:
    values = []
    for word in _words(text, flag):
        if not word.isdigit() or int(word) < low:
            raise HarnessError(f"{flag}: {word!r} is not a whole number of at least {low}",
                               f"write {flag} as whole numbers separated by commas, e.g. {','.join(map(str, default))}")
        values.append(int(word))
    return tuple(dict.fromkeys(values)) or default


def parse_prune(text: str | None) -> tuple[float, ...]:
    values = []
    for word in _words(text, "--prune"):
        try:
            recipe_of(ModelSpec("m", "m", options={"prune": word}))   # the recipe's own check of a fraction
        except HarnessError:
            raise HarnessError(f"--prune: {word!r} is not a fraction of weights to remove",
                               "write --prune as fractions F with 0 <= F < 1 separated by commas, e.g. 0,0.25,0.5") \
                from None
        values.append(float(word) + 0.0)
    return tuple(dict.fromkeys(values)) or PRUNE


def parse_choices(text: str | None, flag: str, allowed: tuple[str, ...], aliases: dict | None = None) -> tuple[str, ...]:
    from harness.suggest import did_you_mean
    values = []
    for word in _words(text, flag):
        word = (aliases or {}).get(word, word)
        if word not in allowed:
            raise HarnessError(f"{flag}: {word!r} is not one of {', '.join(allowed)}",
                               did_you_mean(word, allowed, f"write {flag} from {','.join(allowed)}", n=1, shown=repr))
        values.append(word)
    return tuple(dict.fromkeys(values))


def default_dtypes(runtime: RuntimeOptions, base: ModelSpec) -> tuple[str, ...]:
    """Every dtype harness.slow_dtypes does not warn about on this device."""
    from harness import slow_dtypes
    fast = tuple(d for d in DTYPE_NAMES if not slow_dtypes.warnings(
        [ModelSpec(base.name, base.adapter, options={"dtype": d})], runtime))
    return fast or ("float32",)


def default_quantize(runtime: RuntimeOptions) -> tuple[str, ...]:
    """``none`` and every scheme torchao runs on this device (a one-layer trial, milliseconds)."""
    import importlib.util
    if importlib.util.find_spec("torchao") is None:
        return (NONE,)
    from harness.models.device import choose_device
    from harness.models.variants import cannot_quantize
    device = choose_device(runtime.device)
    return (NONE, *(s for s in QUANTIZE if cannot_quantize(s, device) is None))


def build_space(base: ModelSpec, runtime: RuntimeOptions, *, batch_sizes: str | None = None, dtypes: str | None = None,
                quantize: str | None = None, prune: str | None = None, power_limits: str | None = None) -> Space:
    """The space from the command's flags (each a comma-separated list; absent: the default)."""
    chosen_dtypes = parse_choices(dtypes, "--dtypes", DTYPE_NAMES, DTYPE_ALIASES) or default_dtypes(runtime, base)
    chosen_quantize = parse_choices(quantize, "--quantize", (NONE, *QUANTIZE)) or default_quantize(runtime)
    return Space(batch_sizes=parse_ints(batch_sizes, "--batch-sizes", 1, BATCH_SIZES), dtypes=chosen_dtypes,
                 quantize=chosen_quantize, prune=parse_prune(prune),
                 power_limits_w=parse_ints(power_limits, "--power-limits", 1, ()) if power_limits is not None else ())
