"""A synthetic NVML device that replays a known power and clock-event trace on a fake clock.

Power is piecewise constant; the total-energy counter is its exact integral, updated only every
``counter_period`` seconds, as real counters are.
"""
from __future__ import annotations

from types import SimpleNamespace


class FakeClock:
    """Whole milliseconds, so sample times are exact decimals."""

    def __init__(self, start_ms: int = 0):
        self.ms = start_ms

    def __call__(self) -> float:
        return self.ms / 1000

    def sleep(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)

    def set(self, seconds: float) -> None:
        self.ms = round(seconds * 1000)


class NVMLError(Exception):
    pass


class FakeNvml:
    def __init__(self, clock: FakeClock, power_steps: list[tuple[float, float]], reasons_steps: list[tuple[float, int]] = (),
                 counter_period: float = 0.1, has_energy_counter: bool = True, has_field_values: bool = True,
                 mig: bool = False, init_error: str | None = None, count: int = 1, lost_at: float | None = None,
                 power_fails_at: float | None = None, power_scale: float = 1.0):
        self.clock, self.power_steps, self.reasons_steps = clock, sorted(power_steps), sorted(reasons_steps)
        self.counter_period, self.has_energy_counter, self.has_field_values = counter_period, has_energy_counter, has_field_values
        self.mig, self.init_error, self.count = mig, init_error, count
        self.calls: list[str] = []
        # from lost_at on, every device query fails as NVML does when a GPU falls off the bus;
        # from power_fails_at on, only the power queries fail (the counter goes on)
        self.lost_at, self.power_fails_at = lost_at, power_fails_at
        self.power_scale = power_scale      # sampled power reads this times the true power (the counter stays exact)

    def _alive(self, power: bool = False) -> None:
        t = self.clock()
        if self.lost_at is not None and t >= self.lost_at:
            raise NVMLError("GPU is lost")
        if power and self.power_fails_at is not None and t >= self.power_fails_at:
            raise NVMLError("Unknown Error")

    # the trace
    def power_at(self, t: float) -> float:
        return [w for start, w in self.power_steps if start <= t][-1]

    def energy_j(self, t: float) -> float:
        total = 0.0
        for (start, w), nxt in zip(self.power_steps, [s for s, _ in self.power_steps[1:]] + [float("inf")]):
            if t > start:
                total += w * (min(t, nxt) - start)
        return total

    def reasons_at(self, t: float) -> int:
        active = [bits for start, bits in self.reasons_steps if start <= t]
        return active[-1] if active else 0

    def _seconds_with(self, bit: int, t: float) -> float:
        total = 0.0
        for (start, bits), nxt in zip(self.reasons_steps, [s for s, _ in self.reasons_steps[1:]] + [float("inf")]):
            if bits & bit and t > start:
                total += min(t, nxt) - start
        return total

    # the NVML functions the meter calls
    def nvmlInit(self):
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self):
        pass

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlSystemGetNVMLVersion(self):
        return "12.550.54.15"

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-fake-{h}"

    def nvmlDeviceGetName(self, h):
        return b"Fake H100"

    def nvmlDeviceGetPersistenceMode(self, h):
        return 1

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        self._alive()
        return 700_000

    def nvmlDeviceGetMigMode(self, h):
        return [1 if self.mig else 0, 0]

    def nvmlDeviceGetFieldValues(self, h, ids):
        self._alive(power=True)
        if not self.has_field_values:
            raise NVMLError("Not Supported")
        mw = int(self.power_at(self.clock()) * self.power_scale * 1000)
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=mw)) for _ in ids]

    def nvmlDeviceGetPowerUsage(self, h):
        self._alive(power=True)
        return int(self.power_at(self.clock()) * self.power_scale * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        self._alive()
        if not self.has_energy_counter:
            raise NVMLError("Not Supported")
        t = self.clock()
        updated = int(round(t * 1000)) // int(round(self.counter_period * 1000)) * self.counter_period
        return int(round(self.energy_j(updated) * 1000))

    def nvmlDeviceGetClockInfo(self, h, which):
        self._alive()
        capped = self.reasons_at(self.clock()) & 0x4
        return {0: 1755, 1: 1500 if capped else 1980, 2: 2619}[which]

    def nvmlDeviceGetPerformanceState(self, h):
        self._alive()
        return 8 if self.reasons_at(self.clock()) & 0x1 else 0

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        self._alive()
        return self.reasons_at(self.clock())

    def nvmlDeviceGetTemperature(self, h, sensor):
        self._alive()
        return 40 if self.power_at(self.clock()) < 100 else 71

    def nvmlDeviceGetUtilizationRates(self, h):
        self._alive()
        return SimpleNamespace(gpu=0 if self.power_at(self.clock()) < 100 else 98, memory=30)

    def nvmlDeviceGetMemoryInfo(self, h):
        self._alive()
        return SimpleNamespace(used=8 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetViolationStatus(self, h, policy):
        self._alive()
        bit = {0: 0x4, 1: 0x20}.get(policy)
        if bit is None:
            raise NVMLError("Not Supported")
        return SimpleNamespace(referenceTime=0, violationTime=int(round(self._seconds_with(bit, self.clock()) * 1e9)))
