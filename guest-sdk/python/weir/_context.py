"""What a function instance receives in ``init``, and where it declares keyed state."""

import json

from ._state import ListState, MapState, ValueState


class InitContext:
    """The start-up context: the operator's config and files, the instance's place."""

    def __init__(self, ctx):
        self.operator: str = ctx.operator
        """Name of the operator in the job manifest."""
        self.config: dict = json.loads(ctx.config)
        """The operator's ``config`` table, parsed."""
        self.subtask: int = ctx.subtask
        """Index of this parallel instance, from 0."""
        self.parallelism: int = ctx.parallelism
        """Number of parallel instances."""
        self._files = dict(ctx.files)

    def file_bytes(self, name: str) -> bytes:
        """The bytes of the file the manifest names ``name`` in the operator's ``files``."""
        try:
            return self._files[name]
        except KeyError:
            raise KeyError(f"no file named `{name}` in the operator's `files` table") from None

    def file(self, name: str) -> str:
        """The file ``name`` as text."""
        return self.file_bytes(name).decode()

    def value_state(self, name, ttl=None, per_window=False, type_tag=None) -> ValueState:
        """Declares a value state: ``ttl`` in milliseconds; ``per_window`` scopes it to each
        window; ``type_tag`` names the values' type and serialisation, which the host keeps
        with the state (default ``"json"``; the Rust SDK's are ``json:<Rust type>``, e.g.
        ``"json:u64"``)."""
        return ValueState(name, ttl, per_window, type_tag)

    def list_state(self, name, ttl=None, per_window=False, type_tag=None) -> ListState:
        """Declares a list state (the options of ``value_state``)."""
        return ListState(name, ttl, per_window, type_tag)

    def map_state(self, name, ttl=None, per_window=False, type_tag=None) -> MapState:
        """Declares a map state (the options of ``value_state``)."""
        return MapState(name, ttl, per_window, type_tag)
