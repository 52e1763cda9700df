"""dofgen: fine-grained defocus blur control for generated images (arXiv 2510.06215)."""

__version__ = "0.1.0"
