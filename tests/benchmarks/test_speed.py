"""benchmarks/speed.py runs end to end on tiny CIFAR-format data on the CPU."""

import json
import subprocess
import sys
from pathlib import Path

from fixtures import load_benchmark, run_script_here, write_fake_cifar10

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "speed.py"


def test_speed_benchmark_records_cells_and_ratios(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    command = [SCRIPT, "--models", "resnet18", "--data-root", str(root), "--epochs", "1",
               "--workers", "0", "--set", "model.width=2", "--set", "data.batch_size=16", "--set", "run.device=cpu",
               "--set", "run.threads=1", "--results-dir", str(tmp_path / "results")]
    run_script_here(*command)
    result = json.loads((tmp_path / "results" / "speed.json").read_text())
    assert {(c["pipeline"], c["method"]) for c in result["cells"]} == {
        ("fast", "erm"), ("fast", "sat"), ("reference", "erm"), ("reference", "sat")}
    for cell in result["cells"]:
        assert cell["images_per_second"] > 0 and len(cell["epoch_seconds_all"]) == 1
        assert cell["warmup_epoch_seconds"] > 0 and cell["eval_seconds"] > 0 and cell["eval_warmup_seconds"] > 0
        assert 0 < cell["train_gflop_per_image"] < 0.01  # counted at the width trained (2), not the default 64
    assert result["ceilings"] == {}  # measured on CUDA only
    kinds = {key for r in result["ratios"] for key in r if key not in ("model", "pipeline")}
    assert kinds == {"sat_over_ce_time", "speedup_over_reference_sat"}
    assert result["commit"] and result["device"]["torch"]
    assert result["device"]["measured_on"] == ["cpu"]  # a GPU beside it would be named unused_gpu, not gpu
    run_script_here(str(SCRIPT.parent / "report.py"), "--results-dir", str(tmp_path / "results"),
                    "--out", str(tmp_path / "RESULTS.md"))
    assert "| resnet18 | reference | sat |" in (tmp_path / "RESULTS.md").read_text()


def test_bad_input_stops_the_speed_benchmark_in_one_line_and_keeps_the_recorded_table(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    recorded = '{"cells": [{"model": "resnet34"}]}'
    (results / "speed.json").write_text(recorded)
    common = [sys.executable, str(SCRIPT), "--epochs", "1", "--workers", "0", "--pipelines", "fast",
              "--set", "run.device=cpu", "--results-dir", str(results)]
    missing = subprocess.run([*common, "--data-root", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "no CIFAR-10 batches there" in missing.stderr
    assert "benchmarks/prepare_cifar10.py" in missing.stderr
    # a results directory under a file is refused before any pipeline is measured
    under_a_file = subprocess.run([*common[:-1], str(results / "speed.json" / "sub"), "--data-root",
                                   str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert under_a_file.returncode == 2 and f"{results / 'speed.json'} is not a directory" in under_a_file.stderr
    # an unknown model is refused by name before anything runs
    root = write_fake_cifar10(tmp_path, per_batch=8)
    unknown = subprocess.run([*common, "--data-root", str(root), "--models", "nosuchnet"], capture_output=True,
                             text=True)
    assert unknown.returncode == 2 and "argument --models: invalid choice: 'nosuchnet'" in unknown.stderr
    # data there, but every pipeline fails (a model of 5 classes for CIFAR-10's 10): the earlier table is kept
    failed = subprocess.run([*common, "--data-root", str(root), "--models", "resnet18", "--set",
                             "model.num_classes=5"], capture_output=True, text=True)
    assert failed.returncode == 1 and "every pipeline failed; nothing recorded" in failed.stderr, failed.stderr
    assert (results / "speed.json").read_text() == recorded


def test_run_threads_given_to_speed_is_the_count_its_cells_are_timed_and_recorded_with(tmp_path, monkeypatch):
    # as a training takes run.threads: a small model timed with one thread per core on a busy CPU can take several
    # times as long, and the table must say how many threads its figures are for
    import torch

    speed = load_benchmark("speed")
    before = torch.get_num_threads()
    asked = before + 1  # a count other than the process's own, whatever that is
    timed_with = []

    def time_pair(model, pipeline, methods, **kwargs):
        timed_with.append(torch.get_num_threads())
        return [{"model": model, "method": method, "pipeline": pipeline, "device": "cpu", "epoch_seconds": 1.0,
                 "images_per_second": 40.0, "warmup_epoch_seconds": 1.0, "eval_seconds": 0.1} for method in methods]

    monkeypatch.setattr(speed, "time_pair", time_pair)
    root = write_fake_cifar10(tmp_path, per_batch=8)
    monkeypatch.setattr(sys, "argv", ["speed.py", "--models", "resnet18", "--pipelines", "fast", "reference",
                                      "--data-root", str(root), "--set", f"run.threads={asked}",
                                      "--set", "run.device=cpu", "--results-dir", str(tmp_path / "results")])
    speed.main()
    assert timed_with == [asked, asked]
    assert json.loads((tmp_path / "results" / "speed.json").read_text())["device"]["torch_threads"] == asked
    assert torch.get_num_threads() == before  # the process is left as it was found, as a training leaves it


def test_every_pipeline_of_the_speed_benchmark_is_a_valid_config():
    from satlearn.config import load_config

    speed = load_benchmark("speed")
    config_file = Path(__file__).parents[2] / "configs" / "cifar10_sat.yaml"
    for name, overrides in speed.PIPELINES.items():
        config = load_config(config_file, overrides)
        assert config.data.pipeline in ("memory", "reference"), name
    assert load_config(config_file, speed.PIPELINES["fast+cudagraphs"]).run.compile_mode == "reduce-overhead"


def test_a_pipeline_means_the_same_whatever_the_config_file_says():
    from satlearn.config import load_config

    speed = load_benchmark("speed")
    expected = {"fast": (False, None), "fast+compile": (True, "default"), "fast+cudagraphs": (True, "reduce-overhead"),
                "fast+tuned": (True, "reduce-overhead"), "fast+max-autotune": (True, "max-autotune"),
                "reference": (False, None)}
    assert set(expected) == set(speed.PIPELINES)
    for settings in (["run.compile=auto", "run.compile_mode=reduce-overhead"], ["run.compile=false"],
                     ["run.compile=true", "run.compile_mode=max-autotune", "run.compile_tuning=true"]):
        for name, (compiled, mode) in expected.items():
            config = load_config(None, [*settings, *speed.PIPELINES[name]])
            assert config.run.compile is compiled, (name, settings)
            assert mode is None or config.run.compile_mode == mode, (name, settings)
            assert config.run.compile_tuning is (name == "fast+tuned"), (name, settings)


def test_a_failing_pipeline_is_recorded_with_its_error_and_the_others_are_measured(tmp_path, monkeypatch):
    import pytest

    speed = load_benchmark("speed")
    measured = speed.time_pair

    def time_pair(model, pipeline, methods, **kwargs):
        if pipeline == "fast":
            raise RuntimeError("CUDA graphs could not be captured\nmore detail")
        return measured(model, pipeline, methods, **kwargs)

    monkeypatch.setattr(speed, "time_pair", time_pair)
    root = write_fake_cifar10(tmp_path, per_batch=8)
    monkeypatch.setattr(sys, "argv", ["speed.py", "--models", "resnet18", "--data-root", str(root), "--epochs", "1",
                                      "--workers", "0", "--set", "model.width=2", "--set", "data.batch_size=16",
                                      "--set", "run.device=cpu", "--set", "run.threads=1",
                                      "--results-dir", str(tmp_path / "results")])
    with pytest.raises(SystemExit, match="1 pipeline"):
        speed.main()
    cells = json.loads((tmp_path / "results" / "speed.json").read_text())["cells"]
    failed = [c for c in cells if "error" in c]
    assert [(c["pipeline"], c["error"]) for c in failed] == [
        ("fast", "RuntimeError: CUDA graphs could not be captured")] * 2
    assert {c["pipeline"] for c in cells if "error" not in c} == {"reference"}
    run_script_here(str(SCRIPT.parent / "report.py"), "--results-dir", str(tmp_path / "results"),
                    "--out", str(tmp_path / "RESULTS.md"))
    assert "| resnet18 | fast | sat | failed: RuntimeError" in (tmp_path / "RESULTS.md").read_text()


def test_fastest_pipeline_counts_the_warm_up_once_and_ignores_failures_reference_and_other_devices(tmp_path):
    speed = load_benchmark("speed")

    def cell(pipeline, warmup, epoch, device="cuda:0", method="sat", model="resnet34"):
        return {"model": model, "method": method, "pipeline": pipeline, "device": device,
                "warmup_epoch_seconds": warmup, "epoch_seconds": epoch, "eval_warmup_seconds": warmup / 2,
                "eval_seconds": epoch / 10}

    # train + evaluate e epochs: fast 15 + 2.2 (e - 1) s, cudagraphs 90 + 1.1 (e - 1) s
    cells = [cell("fast", 10.0, 2.0), cell("fast+cudagraphs", 60.0, 1.0), cell("reference", 0.1, 0.1),
             {"model": "resnet34", "method": "sat", "pipeline": "fast+compile", "error": "RuntimeError: x"},
             cell("fast+compile", 0.0, 0.5, device="cpu"), cell("fast+compile", 0.0, 0.5, method="erm"),
             cell("fast+compile", 0.0, 0.5, model="resnet18")]
    file = tmp_path / "speed.json"
    file.write_text(json.dumps({"cells": cells}))
    choose = lambda **kw: speed.fastest_pipeline(file, model="resnet34", method="sat", **kw)  # noqa: E731
    assert choose(epochs=200, device_type="cuda") == "fast+cudagraphs"  # 309 s against 453 s
    assert choose(epochs=60, device_type="cuda") == "fast"  # 145 s against 155 s

    assert choose(epochs=20, device_type="cpu") == "fast+compile"
    assert choose(epochs=20, device_type="mps") is None
    assert speed.fastest_pipeline(tmp_path / "missing.json", model="resnet34", method="sat", epochs=5,
                                  device_type="cuda") is None


def write_compiled_and_eager_table(tmp_path):
    """A speed table where CE was built first and paid the compilation (60 s) and SAT's own warm-up (1 s) found it
    done; eager epochs take 2 s, CUDA-graph ones 1 s."""
    def cell(pipeline, method, warmup, epoch):
        return {"model": "resnet34", "method": method, "pipeline": pipeline, "device": "cuda:0",
                "warmup_epoch_seconds": warmup, "epoch_seconds": epoch}

    file = tmp_path / "speed.json"
    file.write_text(json.dumps({"cells": [cell("fast", "erm", 5.0, 2.0), cell("fast", "sat", 1.0, 2.0),
                                          cell("fast+cudagraphs", "erm", 60.0, 1.0),
                                          cell("fast+cudagraphs", "sat", 1.0, 1.0)]}))
    return file


def test_fastest_pipeline_counts_the_compilation_that_a_fresh_process_pays(tmp_path):
    speed = load_benchmark("speed")
    file = write_compiled_and_eager_table(tmp_path)
    # for 41 epochs: eager 5 + 40 · 2 = 85 s; CUDA graphs 60 + 40 · 1 = 100 s, not 1 + 40 = 41 s
    assert speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=41, device_type="cuda") == "fast"
    assert speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=60, device_type="cuda") \
        == "fast+cudagraphs"  # 123 s against 119 s


def test_fastest_pipeline_compiles_once_for_a_grid_and_not_at_all_with_a_filled_cache(tmp_path):
    speed = load_benchmark("speed")
    file = write_compiled_and_eager_table(tmp_path)
    choose = lambda **kw: speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=40,  # noqa: E731
                                                 device_type="cuda", **kw)
    assert choose() == "fast"  # one training, cold: 83 s against 99 s
    # two trainings, the second warm: eager 5 + 1 + 2 · 78 = 162 s, CUDA graphs 60 + 1 + 2 · 39 = 139 s
    assert choose(trainings=2) == "fast+cudagraphs"
    assert choose(compiled_before=True) == "fast+cudagraphs"  # one warm training: 79 s against 40 s
    assert choose(trainings=2, compiled_before=True) == "fast+cudagraphs"


def test_busy_fraction_counts_overlapping_kernels_once_and_gaps_not_at_all():
    speed = load_benchmark("speed")
    assert speed.busy_fraction([]) == (0.0, 0.0)
    # 0-4 and 2-6 overlap (6 busy), then a gap, then 10-11 and 11-13 touch (3 busy); span 0-13
    assert speed.busy_fraction([(10.0, 11.0), (0.0, 4.0), (11.0, 13.0), (2.0, 6.0)]) == (9.0, 13.0)
    assert speed.busy_fraction([(5.0, 9.0), (6.0, 7.0)]) == (4.0, 4.0)  # one inside another


def test_gpu_profile_reads_only_device_events_and_gives_per_step_figures():
    from types import SimpleNamespace

    import torch

    speed = load_benchmark("speed")

    def event(device, start, end, name="sm90_xmma_fprop"):
        kind = torch.autograd.DeviceType.CUDA if device == "cuda" else torch.autograd.DeviceType.CPU
        return SimpleNamespace(device_type=kind, name=name, time_range=SimpleNamespace(start=start, end=end))

    # two steps: kernels busy 0-3000 and 5000-8000 µs; host-side events (launch calls) do not count
    events = [event("cuda", 0, 3000), event("cpu", 0, 9000, "cudaGraphLaunch"), event("cuda", 5000, 8000),
              event("cpu", 3000, 5000, "triton_launch")]
    profile = speed.gpu_profile(events, steps=2)
    assert profile == {"steps": 2, "kernels_per_step": 1.0, "gpu_busy_ms_per_step": 3.0,
                       "gpu_span_ms_per_step": 4.0, "gpu_busy_fraction": 0.75,
                       "compiled_kernel_ms_per_step": 0.0, "library_kernel_ms_per_step": 3.0,
                       "top_kernels": [{"name": "sm90_xmma_fprop", "ms_per_step": 3.0, "calls_per_step": 1.0}]}
    assert speed.gpu_profile([event("cpu", 0, 10)], steps=1)["gpu_busy_fraction"] is None


def test_gpu_profile_splits_compiled_from_library_kernels_and_ranks_the_largest():
    from types import SimpleNamespace

    import torch

    speed = load_benchmark("speed")

    def kernel(name, start, end):
        return SimpleNamespace(device_type=torch.autograd.DeviceType.CUDA, name=name,
                               time_range=SimpleNamespace(start=start, end=end))

    # one step, µs: a fused batch-norm kernel twice (2000 + 1000), a convolution (2500) overlapping it, a copy
    events = [kernel("triton_per_fused_batch_norm_0", 0, 2000), kernel("cudnn_conv_dgrad", 1000, 3500),
              kernel("triton_per_fused_batch_norm_0", 4000, 5000), kernel("Memcpy DtoD", 5000, 5500)]
    profile = speed.gpu_profile(events, steps=1)
    # summed durations: the overlap (1000-2000) counts in both kinds; the busy time counts it once (5000 of 5500 µs)
    assert profile["compiled_kernel_ms_per_step"] == 3.0 and profile["library_kernel_ms_per_step"] == 3.0
    assert profile["gpu_busy_ms_per_step"] == 5.0 and profile["gpu_span_ms_per_step"] == 5.5
    assert [(k["name"], k["ms_per_step"], k["calls_per_step"]) for k in profile["top_kernels"]] == [
        ("triton_per_fused_batch_norm_0", 3.0, 2.0), ("cudnn_conv_dgrad", 2.5, 1.0), ("Memcpy DtoD", 0.5, 1.0)]
    many = [kernel(f"k{i}", 0, i + 1) for i in range(20)]
    assert [k["name"] for k in speed.gpu_profile(many, steps=1)["top_kernels"]] == [f"k{i}" for i in range(19, 11, -1)]


def test_first_batches_is_a_short_epoch_of_the_same_batches():
    import torch

    from satlearn.data.loader import InMemoryLoader

    speed = load_benchmark("speed")
    loader = InMemoryLoader(torch.zeros(10, 2), torch.arange(10), batch_size=3, shuffle=True, seed=1)
    short = speed.FirstBatches(loader, 2)
    assert len(short) == 2
    got, full = list(short.epoch(4)), list(loader.epoch(4))
    assert len(got) == 2 and all(torch.equal(a[2], b[2]) for a, b in zip(got, full))
    assert len(speed.FirstBatches(loader, 99)) == len(loader)


def test_profile_steps_on_a_cpu_device_says_so_and_records_no_profile(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    command = [SCRIPT, "--models", "resnet18", "--pipelines", "fast", "--methods", "sat",
               "--data-root", str(root), "--epochs", "1", "--profile-steps", "2", "--set", "model.width=2",
               "--set", "data.batch_size=16", "--set", "run.device=cpu", "--set", "run.threads=1",
               "--results-dir", str(tmp_path / "results")]
    done = run_script_here(*command)
    assert "no GPU profile (--profile-steps) on a cpu device" in done.stdout
    result = json.loads((tmp_path / "results" / "speed.json").read_text())
    assert result["profile_steps"] == 2 and all("profile" not in c for c in result["cells"])
    bad = subprocess.run([sys.executable, SCRIPT, "--profile-steps", "-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--profile-steps -1" in bad.stderr


def test_report_shows_every_speed_file_and_the_gpu_busy_column_where_profiled(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    base = {"commit": "0123456789abcdef", "command": "python speed.py", "device": {"gpu": "NVIDIA H100"},
            "ratios": []}
    cell = {"model": "resnet34", "pipeline": "fast+cudagraphs", "method": "sat", "epoch_seconds": 1.3,
            "train_gflop_per_image": 7.0,
            "epoch_seconds_all": [1.3], "images_per_second": 38000.0, "warmup_epoch_seconds": 50.0,
            "eval_warmup_seconds": 7.0, "eval_seconds": 0.06}
    profile = {"steps": 20, "kernels_per_step": 700.0, "gpu_busy_ms_per_step": 5.94, "gpu_span_ms_per_step": 6.6,
               "gpu_busy_fraction": 0.9, "compiled_kernel_ms_per_step": 1.5, "library_kernel_ms_per_step": 4.5,
               "top_kernels": [{"name": "sm90_xmma_dgrad_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tile128",
                                "ms_per_step": 1.25, "calls_per_step": 36.0},
                               {"name": "triton_red_fused_bn", "ms_per_step": 0.5, "calls_per_step": 36.0},
                               {"name": "cudnn_fprop", "ms_per_step": 0.25, "calls_per_step": 36.0},
                               {"name": "memcpy", "ms_per_step": 0.125, "calls_per_step": 1.0}]}
    (results / "speed.json").write_text(json.dumps({**base, "cells": [cell]}))
    (results / "speed_profile.json").write_text(json.dumps(
        {**base, "ceilings": {"bf16_matmul_tflops": 800.0}, "cells": [{**cell, "profile": profile}, {**cell, "method": "erm"},
                           {"model": "resnet34", "pipeline": "fast+max-autotune", "method": "sat",
                            "error": "RuntimeError: x"}]}))
    run_script_here(str(SCRIPT.parent / "report.py"), "--results-dir", str(results),
                    "--out", str(tmp_path / "RESULTS.md"))
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.index("`speed.json`:") < text.index("`speed_profile.json`:")
    plain, profiled = text.split("`speed_profile.json`:")
    assert "GPU busy % (ms kernels / step) |" not in plain.split("`speed.json`:")[1]
    # 7 GFLOP per image at 38,000 images/s: 266 TFLOP/s
    assert "| resnet34 | fast+cudagraphs | sat | 1.30 | 1.30 | 38000 | 266 | 50.0 | 7.0 | 0.06 | 90.0 (5.94 / 6.60) |" \
        in profiled
    assert "| resnet34 | fast+cudagraphs | erm | 1.30 | 1.30 | 38000 | 266 | 50.0 | 7.0 | 0.06 | — |" in profiled
    assert "| resnet34 | fast+max-autotune | sat | failed: RuntimeError: x | | | | | | | |" in profiled
    # an epoch is 7 GFLOP × 49,400 images = 345.8 TFLOP: 0.43 s at 800 TFLOP/s
    assert "800 TFLOP/s; an epoch's training operations at that rate (the floor): resnet34 0.43 s." in profiled
    assert "the floor" not in plain
    # the kernel split, for profiled cells only, with long kernel names cut
    assert ("| resnet34 | fast+cudagraphs | sat | 1.50 | 4.50 | `sm90_xmma_dgrad_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc…` "
            "1.25; `triton_red_fused_bn` 0.50; `cudnn_fprop` 0.25 |") in profiled
    assert "memcpy" not in profiled and "*compiled*" not in plain
    assert f"file `{results.resolve().as_posix()}/speed_profile.json`" in profiled  # the folder it was read from


def test_training_operations_per_image_match_the_convolutions_counted_by_hand():
    speed = load_benchmark("speed")
    # forward multiply-adds of the CIFAR ResNet-34: 3x3 convolutions (stem, 3/4/6/3 blocks of two at 32/16/8/4
    # pixels, the first of stages 2-4 at stride 2), 1x1 projections, the linear head
    stages = [(64, 32, 3), (128, 16, 4), (256, 8, 6), (512, 4, 3)]
    macs = 9 * 3 * 64 * 32 * 32 + 512 * 10
    previous = 64
    for channels, size, blocks in stages:
        macs += 9 * previous * channels * size * size + (2 * blocks - 1) * 9 * channels * channels * size * size
        if previous != channels:
            macs += previous * channels * size * size
        previous = channels
    forward = 2 * macs
    counted = speed.train_flops_per_image("resnet34")
    # backward: gradients of inputs and of weights, each the forward's cost, except the stem's input gradient
    stem = 2 * 9 * 3 * 64 * 32 * 32
    assert abs(counted - (3 * forward - stem)) / counted < 0.01
    assert speed.train_flops_per_image("resnet34", width=32) < counted / 3.5  # ~ width squared


def test_step_graph_experiment_runs_beside_its_pipeline_and_says_how_it_ran(tmp_path):
    root = write_fake_cifar10(tmp_path, per_batch=8)
    command = [SCRIPT, "--models", "resnet18", "--pipelines", "fast", "fast+stepgraph",
               "--data-root", str(root), "--epochs", "1", "--set", "model.width=2", "--set", "data.batch_size=16",
               "--set", "run.device=cpu", "--set", "run.threads=1", "--results-dir", str(tmp_path / "results")]
    run_script_here(*command)
    cells = json.loads((tmp_path / "results" / "speed.json").read_text())["cells"]
    graphed = [c for c in cells if c["pipeline"] == "fast+stepgraph"]
    assert {c["method"] for c in graphed} == {"erm", "sat"} and all(c["epoch_seconds"] > 0 for c in graphed)
    assert all(c["step_graph"] == "eager (no CUDA graph on this device)" for c in graphed)
    assert all("step_graph" not in c for c in cells if c["pipeline"] == "fast")


def test_report_holds_each_gpu_against_the_speed_targets(tmp_path):
    results = tmp_path / "results"
    (results / "label_noise" / "paper").mkdir(parents=True)

    def cell(pipeline, seconds, method="sat", device="cuda:0"):
        return {"model": "resnet34", "pipeline": pipeline, "method": method, "epoch_seconds": seconds,
                "images_per_second": 50000 / seconds, "device": device}

    def table(gpu, cells, ratios):
        return json.dumps({"commit": "0123456789abcdef", "command": "python speed.py", "device": {"gpu": gpu},
                           "cells": cells, "ratios": ratios})

    # the quickest training pipeline counts, with its own ratios; the reference pipeline, the step-graph
    # experiments, CE cells and CPU cells do not
    (results / "speed.json").write_text(table("GPU A", [
        cell("fast", 2.0), cell("fast+cudagraphs", 1.3), cell("fast+cudagraphs", 0.9, method="erm"),
        cell("reference", 4.5), cell("fast+stepgraph", 1.0), cell("fast+compile", 0.5, device="cpu")],
        [{"model": "resnet34", "pipeline": "fast", "speedup_over_reference_sat": 2.25, "sat_over_ce_time": 1.1},
         {"model": "resnet34", "pipeline": "fast+cudagraphs", "speedup_over_reference_sat": 3.46,
          "sat_over_ce_time": 1.008}]))
    (results / "speed_gpu-b.json").write_text(table("GPU B", [cell("fast+cudagraphs", 1.1)], [
        {"model": "resnet34", "pipeline": "fast+cudagraphs", "speedup_over_reference_sat": 5.5,
         "sat_over_ce_time": 1.03}]))
    # a table measured with extra settings says so beside its pipeline
    searched = json.loads(table("GPU B", [cell("fast+cudagraphs", 1.25)], []))
    # (recorded as a plain join of the arguments, as before shlex.join: a quote in a path is no shell quoting)
    searched["command"] = ("python speed.py --data-root /data/o'brien --pipelines fast+cudagraphs "
                           "--set run.cudnn_benchmark_limit=0")
    (results / "speed_searched.json").write_text(json.dumps(searched))
    paper = {"benchmark": "label_noise/paper/sat-sym40", "recipe": "paper", "method": "sat", "noise": "sym40", "device": {"gpu": "GPU A"}, "run_device": "cuda",
             "pipeline": "fast+cudagraphs", "fit_seconds": 310.0, "run_seconds": 301.0, "concurrent_cells": 2,
             "epochs": 200, "commit": "0123456789abcdef", "actual_noise_rate": 0.36, "last_test_accuracy": 0.89,
             "best_test_accuracy": 0.9}
    (results / "label_noise" / "paper" / "sat-sym40.json").write_text(json.dumps(paper))
    (results / "label_noise" / "paper_gpu-b").mkdir()  # the same cell timed again on another GPU model
    (results / "label_noise" / "paper_gpu-b" / "sat-sym40.json").write_text(json.dumps(
        {**paper, "benchmark": "label_noise/paper_gpu-b/sat-sym40", "tag": "gpu-b", "device": {"gpu": "GPU B"},
         "fit_seconds": 290.0, "concurrent_cells": 1, "compiler_cache_at_start": {"dir": "/c", "files": 0},
         "timing": {"setup_seconds": 4.0, "epochs_seconds": 281.0, "train_pass_seconds": 265.0, "eval_seconds": 13.0,
                    "between_epochs_seconds": 1.5, "checkpoint_wait_seconds": 0.4, "finish_seconds": 3.0,
                    "resumed": False}}))
    (results / "label_noise" / "paper_gpu-b" / "sat-sym40.metrics.jsonl").write_text(
        json.dumps({"epoch": 1, "epoch_seconds": 52.34}) + "\n" + json.dumps({"epoch": 2, "epoch_seconds": 1.4}) + "\n")
    run_script_here(str(SCRIPT.parent / "report.py"), "--results-dir", str(results),
                    "--out", str(tmp_path / "RESULTS.md"))
    text = (tmp_path / "RESULTS.md").read_text()
    section = text.split("## CIFAR-10 speed targets at a glance")[1].split("\n## ")[0]
    assert ("| GPU A | `fast+cudagraphs` | 1.30 (**not met**) | 3.46× (**not met**) | 1.008 (met) | `speed.json` |"
            in section)
    assert ("| GPU B | `fast+cudagraphs` | 1.10 (met) | 5.50× (met) | 1.030 (**not met**) | `speed_gpu-b.json` |"
            in section)
    assert ("| GPU B | `fast+cudagraphs`, `run.cudnn_benchmark_limit=0` | 1.25 (**not met**) | — | — | "
            "`speed_searched.json` |") in section
    assert ("| sat-sym40 | GPU A, 2 trainings sharing it | `fast+cudagraphs` | 310 (**not met**) | 301 | not recorded "
            "| — | `label_noise/paper/sat-sym40.json` |") in section
    assert ("| sat-sym40 | GPU B | `fast+cudagraphs` | 290 (met) | 301 | empty (compiles from scratch) | 52.3 | "
            "`label_noise/paper_gpu-b/sat-sym40.json` |") in section
    # where the run went, for the cell that records it: epochs less training passes and evaluations = the rest
    assert "| sat-sym40 | GPU B | 4.0 | 265.0 | 13.0 | 3.0 | 1.5 (0.4) | 3.0 |" in section
    assert section.count("| sat-sym40 | GPU A") == 1  # no timing recorded: no row of its own
    # the tagged cell has a table of its own in the label-noise section, apart from the recipe's
    assert "### recipe `paper`, cells trained again as `gpu-b`" in text and text.count("### recipe `paper`") == 2


def test_speed_ratios_are_sat_over_ce_step_time_and_reference_over_pipeline_time():
    # the end-to-end test checks the ratios' names only: here their values, each a quotient the other way round
    # (or of another pipeline's, model's or failed cell's time) giving another number
    speed = load_benchmark("speed")
    cell = lambda model, pipeline, method, seconds, **extra: {  # noqa: E731
        "model": model, "pipeline": pipeline, "method": method, "epoch_seconds": seconds, **extra}
    cells = [cell("resnet34", "reference", "erm", 8.0), cell("resnet34", "reference", "sat", 10.0),
             cell("resnet34", "fast", "erm", 2.0), cell("resnet34", "fast", "sat", 2.5),
             cell("resnet34", "fast+cudagraphs", "sat", 1.0, error="out of memory"),  # failed: no ratio from it
             cell("resnet18", "fast", "sat", 0.5)]  # another model's time is never mixed in
    assert speed.speed_ratios(cells, ["resnet34"], ["reference", "fast", "fast+cudagraphs"]) == [
        {"model": "resnet34", "pipeline": "reference", "sat_over_ce_time": 1.25},
        {"model": "resnet34", "pipeline": "fast", "sat_over_ce_time": 1.25},
        {"model": "resnet34", "pipeline": "fast", "speedup_over_reference_sat": 4.0},
    ]


class FixedLoader:
    """A loader's size and nothing else: what time_pair reads of one whose epochs a test times itself."""

    def __init__(self, examples: int, steps: int) -> None:
        self.num_examples, self.steps = examples, steps

    def __len__(self) -> int:
        return self.steps


def test_a_cell_records_its_quickest_timed_epoch_and_the_images_per_second_of_that_epoch(monkeypatch):
    # the end-to-end runs time one epoch of each method, so which epoch counts and what it is divided into are
    # not seen there: here a clock advances by set seconds per epoch and per evaluation, in time_pair's own order
    from types import SimpleNamespace

    import numpy as np
    import torch

    speed = load_benchmark("speed")
    clock = [0.0]
    train_seconds = {("erm", 0): 30.0, ("sat", 0): 5.0, ("erm", 1): 3.0, ("sat", 1): 4.0, ("erm", 2): 2.0,
                     ("sat", 2): 6.0}  # epoch 0 is the warm-up
    eval_seconds = {"erm": (7.0, 0.5), "sat": (1.5, 0.25)}  # the first evaluation (it compiles), then a timed one
    evaluations = {method: list(seconds) for method, seconds in eval_seconds.items()}
    examples, batch, steps = 40, 16, 3
    config = SimpleNamespace(run=SimpleNamespace(amp="off", cudnn_benchmark=False, cudnn_benchmark_limit=None),
                             model=SimpleNamespace(num_classes=10, width=None), data=SimpleNamespace(batch_size=batch))

    def build_learner(model, method, pipeline, **kwargs):  # the method's name stands for its learner
        return config, torch.device("cpu"), method, None, FixedLoader(examples, steps), FixedLoader(10, 1)

    def advance(seconds):
        clock[0] += seconds

    monkeypatch.setattr(speed, "build_learner", build_learner)
    monkeypatch.setattr(speed, "epoch_runner", lambda pipeline, method, optimizer, amp, device: (
        lambda loader, epoch: advance(train_seconds[(method, epoch)])))
    monkeypatch.setattr(speed, "evaluate", lambda method, loader, amp: advance(evaluations[method].pop(0)))
    monkeypatch.setattr(speed, "train_flops_per_image", lambda model, **kwargs: 7e9)
    monkeypatch.setattr(speed, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    data = {"noisy": SimpleNamespace(data=SimpleNamespace(x_train=np.zeros((examples, 3, 32, 32))))}
    cells = {c["method"]: c for c in speed.time_pair("resnet34", "fast", ["erm", "sat"], data_root="-", epochs=2,
                                                     workers=0, extra=[], data_cache=data)}
    for method in ("erm", "sat"):
        timed = [train_seconds[(method, epoch)] for epoch in (1, 2)]
        cell = cells[method]
        assert cell["epoch_seconds_all"] == timed and cell["epoch_seconds"] == min(timed), method
        assert cell["images_per_second"] == examples / min(timed), method  # every example, not steps × batch
        assert cell["warmup_epoch_seconds"] == train_seconds[(method, 0)], method
        assert (cell["eval_warmup_seconds"], cell["eval_seconds"]) == eval_seconds[method], method
        assert cell["train_gflop_per_image"] == 7.0 and (cell["steps_per_epoch"], cell["batch_size"]) == (steps, batch)


def test_fastest_pipeline_counts_the_evaluations_and_one_timed_epoch_fewer_than_the_training_has(tmp_path):
    # a close call, so that leaving out either evaluation, or counting the warm-up epoch twice, turns it round:
    # 41 epochs: eager 19 + 1 + 40 · (2.5 + 0.5) = 140 s against CUDA graphs 40.5 + 20 + 40 · (1 + 1) = 140.5 s
    speed = load_benchmark("speed")

    def cell(pipeline, warmup, eval_warmup, epoch, evaluation):
        return {"model": "resnet34", "method": "sat", "pipeline": pipeline, "device": "cuda:0",
                "warmup_epoch_seconds": warmup, "eval_warmup_seconds": eval_warmup, "epoch_seconds": epoch,
                "eval_seconds": evaluation}

    file = tmp_path / "speed.json"
    file.write_text(json.dumps({"cells": [cell("fast+cudagraphs", 40.5, 20.0, 1.0, 1.0),
                                          cell("fast", 19.0, 1.0, 2.5, 0.5)]}))
    assert speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=41, device_type="cuda") == "fast"


def test_fastest_pipeline_takes_a_pipelines_epoch_from_recorded_trainings_where_given(tmp_path):
    speed = load_benchmark("speed")
    file = write_compiled_and_eager_table(tmp_path)
    choose = lambda **kw: speed.fastest_pipeline(file, model="resnet34", method="sat", epochs=41,  # noqa: E731
                                                 device_type="cuda", **kw)
    assert choose() == "fast"  # the table's eager 5 + 40 · 2 = 85 s against CUDA graphs' 60 + 40 · 1 = 100 s
    # trainings whose eager epochs took 2.5 s: 5 + 40 · 2.5 = 105 s; the warm-ups are still the table's
    assert choose(trained_epoch_seconds={"fast": 2.5}) == "fast+cudagraphs"
    assert choose(trained_epoch_seconds={"fast": 2.5, "fast+cudagraphs": 1.2}) == "fast"  # 105 against 108 s
    assert choose(trained_epoch_seconds={"fast+compile": 0.1}) == "fast"  # a pipeline the table lacks adds nothing


def test_on_cuda_each_epoch_is_timed_to_the_end_of_its_queued_device_work(monkeypatch):
    # a CUDA epoch returns to the host before the GPU has run it: here an epoch only queues its seconds, which reach
    # the clock once the device is synchronised (as a result read back, an evaluation's accuracy, synchronises too);
    # a timer read without the synchronisation would count the work in the next cell's epoch, or not at all
    from types import SimpleNamespace

    import numpy as np
    import torch

    speed = load_benchmark("speed")
    clock, queued = [0.0], [0.0]
    train_seconds = {("erm", 0): 30.0, ("sat", 0): 5.0, ("erm", 1): 3.0, ("sat", 1): 4.0}
    config = SimpleNamespace(run=SimpleNamespace(amp="off", cudnn_benchmark=False, cudnn_benchmark_limit=None),
                             model=SimpleNamespace(num_classes=10, width=None), data=SimpleNamespace(batch_size=16))

    def synchronize(device):
        assert device.type == "cuda"
        clock[0] += queued[0]
        queued[0] = 0.0

    def evaluate(method, loader, amp):  # its accuracy, read back as a float, waits for its work
        queued[0] += 0.5
        synchronize(torch.device("cuda"))

    def queue(seconds):
        queued[0] += seconds

    monkeypatch.setattr(speed, "build_learner", lambda model, method, pipeline, **kwargs: (
        config, torch.device("cuda"), method, None, FixedLoader(40, 3), FixedLoader(10, 1)))
    monkeypatch.setattr(speed, "epoch_runner", lambda pipeline, method, optimizer, amp, device: (
        lambda loader, epoch: queue(train_seconds[(method, epoch)])))
    monkeypatch.setattr(speed, "synchronize", synchronize)
    monkeypatch.setattr(speed, "evaluate", evaluate)
    monkeypatch.setattr(speed, "train_flops_per_image", lambda model, **kwargs: 7e9)
    monkeypatch.setattr(speed, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    data = {"noisy": SimpleNamespace(data=SimpleNamespace(x_train=np.zeros((40, 3, 32, 32))))}
    cells = {c["method"]: c for c in speed.time_pair("resnet34", "fast", ["erm", "sat"], data_root="-", epochs=1,
                                                     workers=0, extra=[], data_cache=data)}
    for method in ("erm", "sat"):
        assert cells[method]["warmup_epoch_seconds"] == train_seconds[(method, 0)], method
        assert cells[method]["epoch_seconds_all"] == [train_seconds[(method, 1)]], method
        assert (cells[method]["eval_warmup_seconds"], cells[method]["eval_seconds"]) == (0.5, 0.5), method
    assert queued[0] == 0.0


def test_a_validation_split_is_refused_as_the_speed_benchmark_times_the_whole_training_split(tmp_path):
    # prepare_data, which the benchmark loads with, holds no validation split out: a --set data.val_size would
    # be recorded with the cells while they timed every training example
    root = write_fake_cifar10(tmp_path, per_batch=8)
    done = subprocess.run([sys.executable, str(SCRIPT), "--epochs", "1", "--workers", "0", "--pipelines", "fast",
                           "--set", "run.device=cpu", "--set", "data.val_size=10", "--data-root", str(root),
                           "--results-dir", str(tmp_path / "results")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "speed.py: error: --set data.val_size=10: speed.py times training on the whole training split; a validation "
        "split is for satlearn train")
    assert not (tmp_path / "results").exists()
