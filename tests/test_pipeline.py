"""Tests for ``fastops.Pipeline``: preprocess in worker threads, overlapped with the model.

The spec: ``Pipeline(model, batch_size=..., loader=..., **preprocess_options).map(images)``
yields exactly ``model(preprocess(batch, **preprocess_options))`` for consecutive
batches, in input order, whatever the number of threads and however long each
item takes to load; loading and preprocessing of later batches overlap the model;
an exception anywhere reaches the caller after the outputs before it; no pipeline
thread outlives ``map``.  Models here are tiny (a mean per image, or a cheap torch
module) so the tests run in a fraction of a second.
"""

from __future__ import annotations

import random
import signal
import threading
import time

import numpy as np
import pytest

from fastops import Pipeline, PipelineStats, preprocess

OPTIONS = dict(size=12, crop=10, mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.4))


def per_image_mean(batch: np.ndarray) -> np.ndarray:
    return batch.mean(axis=(1, 2, 3))


def images_of_sizes(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (int(rng.integers(12, 40)), int(rng.integers(12, 40)), 3),
                        dtype=np.uint8) for _ in range(n)]


def sequential(model, images, batch_size: int, **options) -> list:
    return [model(preprocess(images[i:i + batch_size], **options))
            for i in range(0, len(images), batch_size)]


def pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fastops-")]


@pytest.fixture(autouse=True)
def no_threads_left():
    yield
    assert pipeline_threads() == []


def assert_outputs_equal(actual: list, expected: list) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


# ------------------------------------------------------------------ results and order


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 50])
def test_array_input_matches_sequential_run(workers, batch_size):
    images = np.random.default_rng(1).integers(0, 256, (23, 20, 30, 3), dtype=np.uint8)
    pipe = Pipeline(per_image_mean, batch_size=batch_size, workers=workers, **OPTIONS)
    assert_outputs_equal(pipe.run(images), sequential(per_image_mean, images, batch_size, **OPTIONS))


def test_list_of_differing_sizes_and_generator_match_sequential_run():
    images = images_of_sizes(17)
    expected = sequential(per_image_mean, images, 5, **OPTIONS)
    pipe = Pipeline(per_image_mean, batch_size=5, workers=2, **OPTIONS)
    assert_outputs_equal(pipe.run(images), expected)
    assert_outputs_equal(pipe.run(im for im in images), expected)


def test_every_preprocess_option_is_passed_on():
    images = images_of_sizes(6)
    options = dict(OPTIONS, antialias=False, channels="BGR", layout="NHWC", dtype=np.float16)
    pipe = Pipeline(lambda batch: batch.copy(), batch_size=4, **options)
    assert_outputs_equal(pipe.run(images), sequential(lambda b: b, images, 4, **options))


def test_loader_output_keeps_input_order_under_random_delays():
    images = images_of_sizes(40, seed=2)
    delays = random.Random(3)

    def load(index: int) -> np.ndarray:
        time.sleep(delays.random() * 0.003)
        return images[index]

    pipe = Pipeline(per_image_mean, batch_size=3, loader=load, io_workers=6, workers=3,
                    prefetch=4, **OPTIONS)
    assert_outputs_equal(pipe.run(range(len(images))), sequential(per_image_mean, images, 3, **OPTIONS))


@pytest.mark.parametrize("model", [
    lambda batch: batch[:, 0],                          # a view
    lambda batch: (batch, 0),                           # inside a tuple
    lambda batch: list(batch),                          # a list of views
    lambda batch: {"x": batch[:, 1]},                   # inside a dict
], ids=["view", "tuple", "list", "dict"])
def test_model_output_referencing_its_input_gets_fresh_buffers(model):
    """A buffer the model's output still references is not reused for a later batch."""
    images = images_of_sizes(12, seed=4)
    actual = Pipeline(model, batch_size=2, prefetch=1, **OPTIONS).run(images)
    expected = sequential(model, images, 2, **OPTIONS)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_equal(a, e)


def test_model_keeping_its_input_gets_fresh_buffers():
    kept = []
    images = images_of_sizes(8, seed=5)
    Pipeline(kept.append, batch_size=2, prefetch=1, **OPTIONS).run(images)
    assert_outputs_equal(kept, sequential(lambda b: b, images, 2, **OPTIONS))


def test_buffers_are_reused_between_batches():
    seen: set[int] = set()

    def model(batch: np.ndarray) -> float:
        seen.add(batch.__array_interface__["data"][0])
        return float(batch.sum())

    Pipeline(model, batch_size=2, prefetch=1, **OPTIONS).run(images_of_sizes(20))
    # prefetch=1: at most the batch in the model and the one being preprocessed
    # are in use; a third buffer may exist while one is handed back.
    assert len(seen) <= 3


def test_empty_input_yields_nothing():
    pipe = Pipeline(per_image_mean, **OPTIONS)
    assert pipe.run([]) == []
    assert pipe.stats.images == 0 and pipe.stats.batches == 0


def test_stats_count_images_and_time():
    pipe = Pipeline(per_image_mean, batch_size=4, loader=lambda im: im, **OPTIONS)
    pipe.run(images_of_sizes(10))
    stats = pipe.stats
    assert isinstance(stats, PipelineStats)
    assert (stats.images, stats.batches) == (10, 3)
    assert stats.wall_s >= stats.model_s + stats.wait_s > 0
    assert stats.preprocess_s > 0 and stats.load_s > 0
    assert stats.images_per_s == pytest.approx(10 / stats.wall_s)


# ------------------------------------------------------------------ overlap


def test_loaders_run_concurrently():
    """Four loads can only pass the barrier together."""
    barrier = threading.Barrier(4, timeout=10)

    def load(image: np.ndarray) -> np.ndarray:
        barrier.wait()
        return image

    pipe = Pipeline(per_image_mean, batch_size=4, loader=load, io_workers=4, **OPTIONS)
    assert len(pipe.run(images_of_sizes(8))) == 2


def test_next_batch_is_loaded_and_preprocessed_while_the_model_runs():
    """Batch 2 is only loaded once the model has started on batch 1, and the model
    only returns from batch 1 once batch 2 is ready: this passes only if they overlap."""
    model_started, batch2_ready = threading.Event(), threading.Event()
    images = images_of_sizes(4)

    def load(index: int) -> np.ndarray:
        if index >= 2:
            assert model_started.wait(timeout=10), "the model never started"
        return images[index]

    def model(batch: np.ndarray) -> int:
        if not model_started.is_set():
            model_started.set()
            assert batch2_ready.wait(timeout=10), "batch 2 was not prepared during batch 1"
        return len(batch)

    pipe = Pipeline(model, batch_size=2, loader=load, **OPTIONS)
    original = pipe._prepare

    def prepare(stats, batch, loading):
        out = original(stats, batch, loading)
        if model_started.is_set():
            batch2_ready.set()
        return out

    pipe._prepare = prepare
    assert pipe.run(range(4)) == [2, 2]


# ------------------------------------------------------------------ errors and shutdown


class Boom(Exception):
    pass


def test_loader_error_reaches_caller_after_earlier_outputs():
    images = images_of_sizes(10)

    def load(index: int) -> np.ndarray:
        if index == 7:
            raise Boom(f"cannot read {index}")
        return images[index]

    outputs = []
    pipe = Pipeline(per_image_mean, batch_size=3, loader=load, io_workers=4, **OPTIONS)
    with pytest.raises(Boom, match="cannot read 7"):
        for out in pipe.map(range(10)):
            outputs.append(out)
    assert_outputs_equal(outputs, sequential(per_image_mean, images[:6], 3, **OPTIONS))


def test_preprocess_error_reaches_caller():
    images = images_of_sizes(6)
    images[4] = images[4].astype(np.float32)
    with pytest.raises(TypeError, match="uint8"):
        Pipeline(per_image_mean, batch_size=2, workers=2, **OPTIONS).run(images)


@pytest.mark.parametrize("error", [Boom("model failed"), KeyboardInterrupt()])
def test_model_error_or_interrupt_stops_the_threads(error):
    def model(batch):
        raise error

    def load(image):
        time.sleep(0.01)
        return image

    with pytest.raises(type(error)):
        Pipeline(model, batch_size=2, loader=load, prefetch=3, **OPTIONS).run(images_of_sizes(40))


def test_closing_the_generator_early_stops_the_threads():
    pipe = Pipeline(per_image_mean, batch_size=2, loader=lambda im: im, prefetch=3, **OPTIONS)
    outputs = pipe.map(images_of_sizes(40))
    next(outputs)
    assert pipeline_threads() != []
    outputs.close()
    assert pipeline_threads() == []
    assert pipe.stats.batches == 1


def test_error_from_the_input_iterable_comes_after_the_batches_read_before_it():
    images = images_of_sizes(5)

    def source():
        yield from images
        raise Boom("source failed")

    outputs = []
    with pytest.raises(Boom, match="source failed"):
        for out in Pipeline(per_image_mean, batch_size=1, prefetch=4, **OPTIONS).map(source()):
            outputs.append(out)
    assert_outputs_equal(outputs, sequential(per_image_mean, images, 1, **OPTIONS))


def test_ctrl_c_while_waiting_for_a_batch_stops_the_threads():
    """SIGINT arrives while the caller blocks on a batch that is still loading (sent
    again every 50 ms until the handler has run once, in case one is lost)."""
    loading, landed = threading.Event(), threading.Event()

    def load(image):
        loading.set()
        time.sleep(0.2)
        return image

    def on_sigint(signum, frame):
        landed.set()
        raise KeyboardInterrupt

    def press_ctrl_c():
        loading.wait(10)
        time.sleep(0.05)
        for _ in range(100):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            if landed.wait(0.05):
                return

    assert threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint)
    pipe = Pipeline(per_image_mean, batch_size=2, loader=load, **OPTIONS)
    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pipe.run(images_of_sizes(10))
    finally:
        presser.join()
        signal.signal(signal.SIGINT, previous)
    assert pipe.stats.batches < 5


def test_abandoned_iterator_is_closed_when_collected():
    pipe = Pipeline(per_image_mean, batch_size=2, loader=lambda im: im, prefetch=3, **OPTIONS)
    outputs = pipe.map(images_of_sizes(40))
    for _ in outputs:
        break
    assert pipeline_threads() != []
    del outputs
    assert pipeline_threads() == []


def test_interleaved_runs_keep_their_own_stats():
    pipe = Pipeline(per_image_mean, batch_size=2, **OPTIONS)
    first, second = pipe.map(images_of_sizes(6)), pipe.map(images_of_sizes(10))
    stats_second = pipe.stats
    list(zip(first, second))
    list(second)
    assert (stats_second.images, stats_second.batches) == (10, 5)
    assert pipe.stats is stats_second


def test_an_array_of_loader_items_is_iterated_not_sliced():
    images = images_of_sizes(5)
    pipe = Pipeline(per_image_mean, batch_size=2, loader=lambda i: images[i], **OPTIONS)
    assert_outputs_equal(pipe.run(np.arange(5)), sequential(per_image_mean, images, 2, **OPTIONS))


# ------------------------------------------------------------------ models


def test_torch_module_gets_a_tensor_and_nhwc_as_channels_last():
    torch = pytest.importorskip("torch")

    class Probe(torch.nn.Module):
        def forward(self, x):
            assert isinstance(x, torch.Tensor) and x.shape[1] == 3
            assert not torch.is_grad_enabled()
            return x.sum(dim=(2, 3)), x.is_contiguous(memory_format=torch.channels_last)

    images = images_of_sizes(5)
    nchw = Pipeline(Probe(), batch_size=5, **OPTIONS).run(images)[0]
    nhwc = Pipeline(Probe(), batch_size=5, layout="NHWC", **OPTIONS).run(images)[0]
    assert nhwc[1] is True
    torch.testing.assert_close(nchw[0], nhwc[0])


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(workers=-1), ValueError, "workers must be >= 1"),
    (dict(prefetch=1.5), TypeError, "prefetch must be an int"),
    (dict(io_workers=True), TypeError, "io_workers must be an int"),
    (dict(loader="path"), TypeError, "loader must be callable"),
    (dict(resize=3), TypeError, r"unknown preprocess options \['resize'\]"),
    (dict(num_threads=2), TypeError, "unknown preprocess options"),
    (dict(layout="CHW"), ValueError, "layout"),
    (dict(dtype=np.float64), TypeError, "float32 or float16"),
    (dict(mean=(1, 2)), ValueError, "mean must have 3 values"),
    (dict(size=0), ValueError, "size must be positive"),
    (dict(crop="x"), TypeError, "crop"),
    (dict(preprocess_threads=0), ValueError, "num_threads"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Pipeline(per_image_mean, **kwargs)


def test_model_must_be_callable():
    with pytest.raises(TypeError, match="model must be callable"):
        Pipeline("resnet")


def test_image_array_must_be_4d():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        Pipeline(per_image_mean, **OPTIONS).run(np.zeros((4, 4, 3), np.uint8))
