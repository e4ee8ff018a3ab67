"""Loading lm-eval tasks' datasets: from the local cache first, the hub only when it can be reached.

lm-eval builds each task's dataset with ``datasets.load_dataset`` as it constructs the task. With
no network, ``datasets`` retries a hub dataset for about 25 seconds before it gives up. So the tasks
are first built with ``datasets`` and the hub client in offline mode (cache only, no request). If
a dataset is missing from the cache, the hub is asked for only when the user has not set
``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` and a 3-second connection to it succeeds; otherwise it is
exit 2 at once, naming the dataset and the command that downloads it ahead of time.
"""
from __future__ import annotations

import os
import re
import socket
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar
from urllib.parse import urlparse

from harness.errors import HarnessError

T = TypeVar("T")
PROBE_SECONDS = 3.0
_MISSING = re.compile(r"Couldn't reach '([^']+)' on the Hub|Couldn't find (?:a dataset script|any data file)[^']*'([^']+)'")


def _env_offline() -> bool:
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))


@contextmanager
def offline_mode(on: bool = True) -> Iterator[None]:
    """datasets and huggingface_hub in offline mode (cache only) inside the block, as they were after."""
    import datasets.config as dconfig
    import huggingface_hub.constants as hconstants
    saved = (dconfig.HF_HUB_OFFLINE, dconfig.HF_DATASETS_OFFLINE, hconstants.HF_HUB_OFFLINE)
    if on:
        dconfig.HF_HUB_OFFLINE = dconfig.HF_DATASETS_OFFLINE = hconstants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        dconfig.HF_HUB_OFFLINE, dconfig.HF_DATASETS_OFFLINE, hconstants.HF_HUB_OFFLINE = saved


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """A TCP connection to the hub's host within ``timeout`` seconds (DNS included)."""
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)
    thread = threading.Thread(target=probe, daemon=True, name="harness-hub-probe")
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def missing_dataset(exc: BaseException) -> str | None:
    """The dataset a ``datasets`` error says it could not find locally, or None for other errors."""
    if not isinstance(exc, (ConnectionError, FileNotFoundError)) and type(exc).__name__ not in (
            "DatasetNotFoundError", "OfflineModeIsEnabled", "LocalEntryNotFoundError"):
        return None
    found = _MISSING.search(str(exc))
    return next((g for g in found.groups() if g), None) if found else "?"


def download_hint(dataset: str) -> str:
    return (f"download it ahead of time on a machine with network, with the same HF_HOME/HF_DATASETS_CACHE: "
            f"python -c \"import datasets; datasets.load_dataset('{dataset}', NAME)\" (NAME: the task's dataset_name, "
            f"if any), or `hf download --repo-type dataset {dataset}`; then run again")


def load_cache_first(build: Callable[[], T]) -> T:
    """``build()`` with datasets from the cache; again with the hub only if it is reachable."""
    try:
        with offline_mode():
            return build()
    except Exception as exc:
        dataset = missing_dataset(exc)
        if dataset is None:
            raise
        if _env_offline() or not hub_reachable():
            why = "HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set" if _env_offline() else "the hub cannot be reached"
            raise HarnessError(f"lm-eval dataset {dataset!r} is not in the local datasets cache and {why}",
                               download_hint(dataset)) from None
    with offline_mode(on=False):
        return build()
