"""Hook points and the scoped calls that attach functions to them.

A `HookPoint` is an identity placed where a tensor is made (`self.hook_q = HookPoint()  # [batch, pos,
head, d_head]`). The root module names every hook point after its place in the module tree, so
`blocks.0.attn.hook_pattern` is never a hand-written string.

Hooks live in a `ContextVar`, not on the modules. That gives two guarantees by construction:
- a hook exists only inside the `with model.hooks(...)` / `run_with_hooks` / `run_with_cache` call
  that installed it, and is gone on exit, including after an exception;
- Streamlit runs each browser session in its own thread, and every thread starts with an empty
  context, so two sessions sharing one cached model never see each other's hooks.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from torch import Tensor, nn

HookFn = Callable[[Tensor, "HookPoint"], Tensor | None]
NameFilter = str | Sequence[str] | Callable[[str], bool] | None

# name -> hook functions, in installation order; None when no hook is installed (the fast path).
_ACTIVE_HOOKS: ContextVar[Mapping[str, tuple[HookFn, ...]] | None] = ContextVar(
    "attention_lab_hooks", default=None
)


class HookPoint(nn.Module):
    """Identity on a tensor, through which installed hooks may read or replace it."""

    def __init__(self) -> None:
        super().__init__()
        self.name = ""  # set by HookedRoot.setup_hooks from the module tree

    @property
    def active(self) -> bool:
        """Whether a hook is installed here now: modules skip work (e.g. hook_result) when not."""
        hooks = _ACTIVE_HOOKS.get()
        return hooks is not None and self.name in hooks

    # nn.Module.__call__ costs microseconds of dispatch per call, and a model has ~25 hook points per
    # layer; an identity with a dictionary lookup does not need any of that machinery.
    def __call__(self, x: Tensor) -> Tensor:  # type: ignore[override]
        hooks = _ACTIVE_HOOKS.get()
        if hooks is None:
            return x
        for fn in hooks.get(self.name, ()):
            out = fn(x, self)
            if out is not None:
                if out.shape != x.shape:
                    raise ValueError(
                        f"hook on {self.name} returned shape {tuple(out.shape)}, expected {tuple(x.shape)}"
                    )
                x = out
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self(x)

    def extra_repr(self) -> str:
        return self.name


def any_active(*points: HookPoint) -> bool:
    hooks = _ACTIVE_HOOKS.get()
    return hooks is not None and any(p.name in hooks for p in points)


class ActivationCache(dict[str, Tensor]):
    """The tensors captured by `run_with_cache`, by hook name; a missing name suggests near ones."""

    def __missing__(self, key: str) -> Tensor:
        near = difflib.get_close_matches(key, list(self), n=3, cutoff=0.5)
        hint = f"; did you mean {near}?" if near else f"; cached: {sorted(self)[:8]}..."
        raise KeyError(f"{key!r} was not cached{hint}")

    def stack(self, template: str, n: int) -> Tensor:
        """Stack per-layer entries: `cache.stack("blocks.{}.attn.hook_pattern", n_layers)` -> [layer, ...]."""
        return torch.stack([self[template.format(i)] for i in range(n)])


class HookedRoot(nn.Module):
    """Mixin for the root module: names hook points and offers the scoped hook calls."""

    hook_dict: dict[str, HookPoint]

    def setup_hooks(self) -> None:
        self.hook_dict = {}
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name
                self.hook_dict[name] = module

    @property
    def hook_names(self) -> list[str]:
        return list(self.hook_dict)

    def resolve_names(self, names: NameFilter) -> list[str]:
        """Hook names matching a name, a list of names, or a predicate; unknown names raise KeyError."""
        if names is None:
            return list(self.hook_dict)
        if callable(names):
            return [n for n in self.hook_dict if names(n)]
        if isinstance(names, str):
            names = [names]
        for name in names:
            self._check_name(name)
        return list(dict.fromkeys(names))

    def _check_name(self, name: str) -> None:
        if name not in self.hook_dict:
            near = difflib.get_close_matches(name, list(self.hook_dict), n=3, cutoff=0.4)
            hint = f" Did you mean {near}?" if near else ""
            raise KeyError(
                f"no hook point named {name!r} in this model ({len(self.hook_dict)} exist).{hint}"
            )

    @contextmanager
    def hooks(
        self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]
    ) -> Iterator[None]:
        """Install hooks for the duration of the block; `name` may be a hook name or a predicate."""
        outer = _ACTIVE_HOOKS.get() or {}
        merged: dict[str, tuple[HookFn, ...]] = dict(outer)
        for name_or_filter, fn in fwd_hooks:
            for name in self.resolve_names(name_or_filter):
                merged[name] = merged.get(name, ()) + (fn,)
        token = _ACTIVE_HOOKS.set(merged)
        try:
            yield
        finally:
            _ACTIVE_HOOKS.reset(token)

    def run_with_hooks(
        self,
        tokens: Tensor,
        fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]] = (),
        **forward_kwargs: Any,
    ) -> Tensor:
        """Forward pass with hooks that may read or return a replacement for their tensor."""
        with self.hooks(fwd_hooks):
            return self(tokens, **forward_kwargs)

    def run_with_cache(
        self, tokens: Tensor, names: NameFilter = None, **forward_kwargs: Any
    ) -> tuple[Tensor, ActivationCache]:
        """Forward pass that caches (detached) only the hook points asked for; all when names=None."""
        cache = ActivationCache()

        def save(x: Tensor, hook: HookPoint) -> None:
            cache[hook.name] = x.detach()

        with self.hooks([(name, save) for name in self.resolve_names(names)]):
            logits = self(tokens, **forward_kwargs)
        return logits, cache
