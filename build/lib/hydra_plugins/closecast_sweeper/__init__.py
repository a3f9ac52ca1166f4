"""Hydra sweeper plugin of closecast (discovered through the `hydra_plugins` namespace)."""
