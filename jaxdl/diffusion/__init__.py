"""Denoising diffusion: schedules, the forward process, DDPM and DDIM samplers, guidance."""

from jaxdl.diffusion.sampling import (
    classifier_free_guidance,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    ddpm_sample,
    ddpm_step,
    predict_x0,
)
from jaxdl.diffusion.schedule import SCHEDULES, Schedule, make_schedule, q_sample

__all__ = [
    "SCHEDULES",
    "Schedule",
    "classifier_free_guidance",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_sample",
    "ddpm_step",
    "make_schedule",
    "predict_x0",
    "q_sample",
]
