"""Dtypes known to be slow on the chosen device are named before the run (harness.slow_dtypes)."""
from __future__ import annotations

from harness.slow_dtypes import cpu_has_bf16, warnings
from harness.spec import ModelSpec, RuntimeOptions
from run_folders import in_process

CPU = RuntimeOptions(device="cpu")


def test_float16_on_a_cpu_is_named_with_the_measured_slowdown():
    (line,) = warnings([ModelSpec.parse("fp16=tiny-gpt2,dtype=float16"), ModelSpec.parse("tiny-gpt2")], CPU)
    assert line.startswith("model 'fp16' runs in float16 on the CPU") and "slower than float32" in line
    (line,) = warnings([ModelSpec.parse("tiny-gpt2")], RuntimeOptions(device="cpu", dtype="fp16"))
    assert "float16" in line


def test_bfloat16_is_named_only_where_the_cpu_lacks_bf16_instructions(tmp_path):
    models = [ModelSpec.parse("tiny-gpt2,dtype=bfloat16")]
    assert "no bf16 instructions" in warnings(models, CPU, bf16_instructions=False)[0]
    assert warnings(models, CPU, bf16_instructions=True) == []
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(info) is True
    info.write_text("processor : 0\nflags : fpu avx2\n")
    assert cpu_has_bf16(info) is False
    assert cpu_has_bf16(tmp_path / "none") is None


def test_nothing_is_said_for_float32_or_on_a_gpu():
    assert warnings([ModelSpec.parse("tiny-gpt2")], CPU) == []
    assert warnings([ModelSpec.parse("tiny-gpt2,dtype=float16")], RuntimeOptions(device="cuda:0")) == []


def test_harness_run_warns_before_the_run(tmp_path, capsys):
    proc = in_process(capsys, "run", "--model", "tiny-gpt2,dtype=float16", "--tasks", "facts_mc", "--limit", "2",
                      "--no-probes", "--no-progress", "--device", "cpu", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    warning = proc.stderr.index("harness: warning: model 'tiny-gpt2' runs in float16 on the CPU")
    assert warning < proc.stderr.index("run folder:")          # said before the run starts
