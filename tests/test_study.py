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

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastops import _study, _study_report, preprocess  # noqa: E402
from fastops._cli import main  # noqa: E402
from fastops._study import Record, StudySettings, Workload  # noqa: E402

SETTINGS = StudySettings(images=6, batch_size=4, latency_s=0.001, cores=2)
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


def test_process_pool_reproduces_sequential_logits(work, reference):
    pool, threads = _study.start_process_pool(work, 1)
    try:
        for method in ("imap", "imap_unordered"):
            record, logits = _study.run_process_pool(work, pool, 1, threads, method, chunksize=2)
            assert record.config == f"{method} chunksize 2, torch threads 2"
            np.testing.assert_allclose(logits, reference, atol=1e-5, rtol=0)
            assert record.model_s > 0
    finally:
        pool.terminate()
        pool.join()


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


def test_top5_mismatch_counts_real_differences_only():
    ref = np.array([[9.0, 8.0, 7.0, 6.0, 5.0, 4.999, 1.0, 0.0]])
    same = ref + 1e-4
    near_tie = ref.copy()
    near_tie[0, [4, 5]] = near_tie[0, [5, 4]]           # 5th and 6th swap: a tie
    different = ref.copy()
    different[0, 7] = 100.0                              # class 7 enters the top 5
    assert _study.top5_mismatches(ref, same, tolerance=0.01) == 0
    assert _study.top5_mismatches(ref, near_tie, tolerance=0.01) == 0
    assert _study.top5_mismatches(ref, near_tie, tolerance=1e-4) == 1
    assert _study.top5_mismatches(ref, different, tolerance=0.01) == 1


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
                              "--latency-ms", "5", "--modes", "io"])
    settings = _study_settings(args, parser)
    quick = StudySettings.quick()
    assert (settings.images, settings.batch_size, settings.latency_s, settings.modes) == (
        10, 2, 0.005, ("io",))
    assert settings.thread_workers == quick.thread_workers
    assert _study.count_runs(settings) == len(_study.plan(settings, "io")) + 2 * 2 * len(quick.process_workers)
    assert len(_study.plan(settings, "compute")) == len(_study.plan(settings, "io")) + 2  # model_only
