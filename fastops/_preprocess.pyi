"""Fused image preprocessing kernel (compiled from _preprocess.pyx)."""
import numpy as np

def preprocess_into(images: list[np.ndarray], plans: np.ndarray, out: np.ndarray,
                    antialias: bool, nchw: bool, source_channel: tuple[int, int, int],
                    scale: tuple[float, float, float], bias: tuple[float, float, float],
                    num_threads: int) -> np.ndarray: ...
