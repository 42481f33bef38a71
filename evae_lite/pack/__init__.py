"""Results without training: a pack of the results cache's entries (trained models and
measured results) under the cache's own keys, fetched on demand when the cache misses.

    python -m evae_lite.pack write --scale smoke --out pack/   # from a filled cache
    python -m evae_lite.pack publish pack/ --tag pack-smoke-1  # gh commands, and the pin

`source` names the published pack (none yet); `fetch.fetch_entry` fills a missing entry from
it, checked against the pinned manifest; `write.write_pack` writes one; `publish` attaches one
to a GitHub release and says the lines that pin it. The package lies
outside the code that keys results (runs.cache.CODE): it moves bytes whose sha256 the pinned
manifest fixes into entries keyed by the code that computed them, so editing it re-keys
nothing, and a published pack stays usable. A model's checkpoint is packed without Adam's
moments (`slim`): a fetched model is for reading results, not for training on.
"""

from .fetch import PackError, fetch_entry
from .source import PackConfigError, PackSource, pack_source

__all__ = [
    "PackConfigError",
    "PackError",
    "PackSource",
    "PackSummary",
    "fetch_entry",
    "pack_source",
    "write_pack",
]


def __getattr__(name: str):
    """write_pack and PackSummary, imported when first asked for: a fetch loads no writer."""
    if name in ("write_pack", "PackSummary"):
        from . import write

        return getattr(write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
