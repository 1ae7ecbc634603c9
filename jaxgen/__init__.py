"""jaxgen: generative models (VAEs and GANs) written the JAX way."""

__version__ = "0.1.0"
