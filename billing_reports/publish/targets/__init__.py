"""The built-in publish targets, each an ordinary plugin of ``register_publish_targets``."""
