"""Toy problems for looking at optimisers."""

from jaxdl.toys.surfaces import SURFACES, plot_trajectories, trajectories

__all__ = ["SURFACES", "plot_trajectories", "trajectories"]
