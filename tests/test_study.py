"""Tests for the parallel-inference study (``python -m fastops study``).

The study's claims rest on every strategy classifying the same images the same way,
so the strategies are run here on a few small images with a tiny model (average
pool + linear layer, so a run takes milliseconds) and must reproduce the
sequential baseline's logits and report where their time went.  The report
functions are checked on synthetic records.  ResNet-18 itself is checked for its
published shape (11.7 M parameters, 1000 logits) and for seeded determinism.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastops import _study, _study_report, preprocess  # noqa: E402
from fastops._cli import main  # noqa: E402
from fastops._study import Record, StudySettings, Workload  # noqa: E402

SETTINGS = StudySettings(images=6, batch_size=4, latency_s=0.001, cores=2, repeats=1)
TINY_MODEL = functools.partial(torch.nn.Sequential, torch.nn.AdaptiveAvgPool2d(4),
                               torch.nn.Flatten(), torch.nn.Linear(48, 10))


@pytest.fixture(scope="module")
def images():
    return [im[::8, ::8].copy() for im in _study.make_images(SETTINGS.images)]


@pytest.fixture(scope="module", params=["compute", "io"])
def work(request, images, tmp_path_factory):
    if request.param == "compute":
        return Workload("compute", images, _study._identity, TINY_MODEL, SETTINGS)
    paths = _study.write_images(images, str(tmp_path_factory.mktemp("images")))
    loader = functools.partial(_study.read_image, latency_s=SETTINGS.latency_s)
    return Workload("io", paths, loader, TINY_MODEL, SETTINGS)


@pytest.fixture(scope="module")
def reference(work):
    record, logits = _study.run_sequential(work)
    return logits


STRATEGY_RUNS = {
    "thread_pool": functools.partial(_study.run_thread_pool, workers=3, torch_threads=1),
    "intra_op": functools.partial(_study.run_intra_op, threads=1, channels_last=False),
    "intra_op channels_last": functools.partial(_study.run_intra_op, threads=2, channels_last=True),
    "fastops_pipeline": functools.partial(_study.run_pipeline, torch_threads=1, channels_last=False),
    "fastops_pipeline NHWC": functools.partial(_study.run_pipeline, torch_threads=2, channels_last=True),
}


@pytest.mark.parametrize("channels_last", [False, True])
def test_model_only_runs_the_model_on_ready_batches(work, reference, channels_last):
    record, logits = _study.run_model_only(work, threads=2, channels_last=channels_last)
    assert record.strategy == "model_only" and record.model_s == record.wall_s > 0
    assert record.preprocess_s == record.load_s == 0
    np.testing.assert_allclose(logits, reference, atol=0.05, rtol=0)


@pytest.mark.parametrize("name", STRATEGY_RUNS)
def test_strategy_reproduces_sequential_logits_and_accounts_its_time(name, work, reference):
    record, logits = STRATEGY_RUNS[name](work)
    assert record.strategy == name.split()[0] and record.mode == work.mode
    assert record.images == len(work.items) and record.wall_s > 0
    assert record.model_s > 0 and record.preprocess_s > 0
    assert (record.load_s >= len(work.items) * SETTINGS.latency_s) == (work.mode == "io")
    # fastops preprocesses in float, PyTorch resizes uint8: outputs differ by <= 1/255 / std
    np.testing.assert_allclose(logits, reference, atol=0.05, rtol=0)


def test_process_pool_reproduces_sequential_logits_in_every_process(work, reference):
    pool, threads = _study.start_process_pool(work, 2)
    try:
        assert len(set(pool.map(_study._pool_pid, range(8), chunksize=1))) == 2
        for method in ("imap", "imap_unordered"):
            record, logits = _study.run_process_pool(work, pool, 2, threads, method, chunksize=2)
            assert record.config == f"{method} chunksize 2, torch threads 1"
            np.testing.assert_allclose(logits, reference, atol=1e-5, rtol=0)
            assert record.model_s > 0
    finally:
        pool.terminate()
        pool.join()


def test_run_workload_measures_every_planned_configuration(images):
    settings = StudySettings(images=4, batch_size=2, cores=2, repeats=2, thread_workers=(2,),
                             process_workers=(1,), chunksizes=(2,), few_torch_threads=True)
    work = Workload("compute", images[:4], _study._identity, TINY_MODEL, settings)
    labels = []
    records = _study.run_workload(work, labels.append)
    assert len(labels) == len(records) == _study.count_runs(replace(settings, modes=("compute",)))
    assert {r.strategy for r in records} == {*_study.STRATEGIES, _study.MODEL_ONLY}
    assert all(r.mismatches == 0 for r in records)


def test_torch_preprocess_matches_fastops_within_uint8_rounding(images):
    for image in images[:3]:
        ours = preprocess([image], size=_study.RESIZE, crop=_study.CROP, mean=_study.MEAN,
                          std=_study.STD)[0]
        theirs = _study.torch_preprocess(image).numpy()
        assert theirs.shape == ours.shape == (3, 224, 224)
        # PyTorch's uint8 kernel has fixed-point weights and rounds to uint8: within
        # one uint8 step, 1/255, divided by std >= 0.224
        assert np.abs(theirs - ours).max() <= 1 / 255 / 0.224 + 1e-4


def test_images_cycle_through_the_realistic_sizes():
    images = _study.make_images(7)
    assert [im.shape[:2] for im in images] == [*_study.IMAGE_SIZES, *_study.IMAGE_SIZES[:2]]
    assert all(im.dtype == np.uint8 and im.shape[2] == 3 for im in images)
    np.testing.assert_array_equal(images[3], _study.make_images(4)[3])


def test_resnet18_has_the_published_shape_and_seeded_weights():
    from fastops._resnet import resnet18

    model = resnet18(seed=3)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    x = torch.zeros(2, 3, 64, 64)
    with torch.inference_mode():
        assert model(x).shape == (2, 1000)
        torch.testing.assert_close(model(x), resnet18(seed=3)(x))
    assert not model.training


# ------------------------------------------------------------------ top-5 check


def test_output_check_catches_wrong_rows_order_and_classes_but_not_rounding():
    rng = np.random.default_rng(0)
    # like a random-weight model: every image has nearly the same logits
    ref = rng.normal(0, 1, 40)[None, :] + rng.normal(0, 0.1, (6, 40))
    assert _study.output_mismatches(ref, ref + rng.normal(0, 1e-4, ref.shape)) == 0
    assert _study.output_mismatches(ref, ref[::-1]) == 6            # same top-5 sets, wrong order
    assert _study.output_mismatches(ref, ref[:3]) == 6              # rows missing
    changed = ref.copy()
    changed[2, np.argmin(changed[2] - ref.mean(0))] += 1.0          # a class jumps into image 2's top 5
    assert _study.output_mismatches(ref, changed) == 1


def test_output_check_tolerates_ties_at_the_fifth_class():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 0.1, (4, 20))
    centered = ref - ref.mean(0)
    order = np.argsort(centered[0])
    fifth, sixth = order[-5], order[-6]
    tied = ref.copy()
    tied[:, sixth] += centered[0, fifth] - centered[0, sixth] - 1e-6   # image 0: 5th and 6th tie
    swapped = tied.copy()
    swapped[0, [fifth, sixth]] = tied[0, [sixth, fifth]]
    assert _study.output_mismatches(tied, swapped) == 0


# ------------------------------------------------------------------ report


def records() -> list[Record]:
    rows = [("sequential", 1, 2.0), ("thread_pool", 4, 1.6), ("process_pool", 2, 1.25),
            ("intra_op", 2, 1.1), ("fastops_pipeline", 2, 1.0), ("fastops_pipeline", 1, 1.9)]
    return [Record(mode, strategy, workers, "cfg", 100, wall, 0.0, 0.1, 1.5 * wall, 0.01)
            for mode in ("compute", "io") for strategy, workers, wall in rows] + [
        Record("compute", "model_only", 2, "cfg", 100, 0.9, model_s=0.9)]


def test_table_has_a_block_per_mode_with_ratios_to_sequential():
    table = _study_report.format_table(records())
    assert table.count("[compute] 100 images") == table.count("[io] 100 images") == 1
    row = next(line for line in table.splitlines() if line.startswith("process_pool"))
    assert row.split()[3:7] == ["80.0", "1.60", "12.5", "-"]
    assert row.split()[-1] == "same"


def test_summary_compares_the_pipeline_with_the_best_recipe_and_intra_op():
    lines = _study_report.summary(records())
    assert len(lines) == 5
    assert "100.0 images/s = 1.25 x best recipe" in lines[0] and "process_pool x2" in lines[0]
    assert "= 1.10 x best intra_op" in lines[1]
    assert "= 0.90 x the model alone (ceiling)" in lines[2]
    assert lines[3].startswith("io: ") and len([line for line in lines if "ceiling" in line]) == 1


def test_json_records_name_strategy_workers_and_throughput():
    doc = _study_report.study_json(records(), {"machine": "x"})
    assert doc["config"] == {"machine": "x"}
    first = doc["results"][0]
    assert {"mode", "strategy", "workers", "images_per_s", "model_s"} <= set(first)
    assert first["images_per_s"] == 50.0
    json.dumps(doc)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "study.png"
    _study_report.plot_study(records(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ command line


def test_study_rejects_unknown_modes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", "--modes", "disk"])
    assert exc.value.code == 2
    assert "unknown ['disk']" in capsys.readouterr().err


def test_study_settings_follow_the_options():
    from fastops._cli import _study_settings, build_parser

    parser = build_parser()
    args = parser.parse_args(["study", "--quick", "--images", "10", "--batch-size", "2",
                              "--latency-ms", "5", "--modes", "io", "--repeat", "2"])
    settings = _study_settings(args, parser)
    assert (settings.images, settings.batch_size, settings.latency_s, settings.modes,
            settings.repeats) == (10, 2, 0.005, ("io",), 2)
    assert settings.pool_workers("io") == StudySettings.quick().pool_workers("io")


def test_quick_grid_stays_small_on_many_cores():
    quick, full = StudySettings.quick(), StudySettings()
    assert replace(quick, cores=64).torch_threads() == [1, 64]
    assert replace(full, cores=12).torch_threads() == [1, 2, 4, 8, 12]
    assert _study.count_runs(replace(quick, cores=64)) == _study.count_runs(replace(quick, cores=2))


def test_study_exits_1_when_outputs_differ(monkeypatch, capsys):
    bad = records()
    bad[3].mismatches = 2
    monkeypatch.setattr(_study, "run_study", lambda settings, step: bad)
    assert main(["study", "--quick", "--no-progress"]) == 1
    assert "the outputs of 2 images differ" in capsys.readouterr().err
    bad[3].mismatches = 0
    assert main(["study", "--quick", "--no-progress"]) == 0


def test_study_without_torch_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)      # `import torch` raises ImportError
    assert main(["study", "--quick"]) == 1
    assert "pip install 'fastops-kernels[bench]'" in capsys.readouterr().err
