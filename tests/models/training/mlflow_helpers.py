"""A stand-in fitted model for the registry and selection tests."""
import numpy as np


class ConstantModel:
    """A stand-in fitted model whose quality is a known number."""

    feature_names = ["x"]

    def __init__(self, quality: float):
        self.quality = quality

    def predict(self, frame):
        return np.full(len(frame), self.quality)
