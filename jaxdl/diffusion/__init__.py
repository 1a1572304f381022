"""Denoising diffusion: schedules, the forward process, the training loss, DDPM and DDIM
samplers, guidance, RePaint in-painting and a compiled class-conditional :class:`Sampler`."""

from jaxdl.diffusion.inpaint import forward_jump, inpaint_sample, repaint_schedule
from jaxdl.diffusion.objective import diffusion_eval, diffusion_loss, to_model_space, to_unit
from jaxdl.diffusion.sampler import SAMPLE_METHODS, Sampler, grid_labels
from jaxdl.diffusion.sampling import (
    classifier_free_guidance,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    ddpm_posterior,
    ddpm_sample,
    ddpm_step,
    predict_x0,
)
from jaxdl.diffusion.schedule import SCHEDULES, Schedule, make_schedule, q_sample

__all__ = [
    "SAMPLE_METHODS",
    "SCHEDULES",
    "Sampler",
    "Schedule",
    "classifier_free_guidance",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_posterior",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_eval",
    "diffusion_loss",
    "forward_jump",
    "grid_labels",
    "inpaint_sample",
    "make_schedule",
    "predict_x0",
    "q_sample",
    "repaint_schedule",
    "to_model_space",
    "to_unit",
]
