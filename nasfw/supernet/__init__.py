"""Weight sharing: the SuperNet protocol, the sampling strategies used to train one, BN recalibration,
and a generic training loop that plugins reuse."""
from nasfw.supernet.base import SuperNet
from nasfw.supernet.bn import recalibrate_bn
from nasfw.supernet.sampling import (ProgressiveSchedule, RestrictedSampler, SandwichSampler, UniformSampler,
                                     make_sampler)
from nasfw.supernet.train import TrainConfig, train_supernet

__all__ = ["SuperNet", "recalibrate_bn", "ProgressiveSchedule", "RestrictedSampler", "SandwichSampler",
           "UniformSampler", "make_sampler", "TrainConfig", "train_supernet"]
