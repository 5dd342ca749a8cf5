"""Model registry: name -> builder, so training, export and the nodes build any model by name.

A leaf: it imports no model. The model modules register themselves on import, and
`depth_core.models` imports them all, so any import of the registry through the package
(as every `import depth_core.models...` is) sees every model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorator


def registered_models() -> list[str]:
    return sorted(_BUILDERS)


def build_model(name: str, **config: Any) -> nn.Module:
    """Build a registered model from keyword config. The model keeps `model_name` and
    `model_config` so a checkpoint can rebuild it."""
    if name not in _BUILDERS:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(_BUILDERS))}")
    model = _BUILDERS[name](**config)
    model.model_name = name
    model.model_config = dict(config)
    return model


def build_model_from_config(config: dict[str, Any]) -> nn.Module:
    """`{"name": ..., **kwargs}` -> model."""
    config = dict(config)
    return build_model(config.pop("name"), **config)
