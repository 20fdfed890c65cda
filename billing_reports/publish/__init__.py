"""Publishing the built site to internal static hosting.

A publish target author needs::

    from billing_reports.publish import Change, Option, PublishTarget, BuiltSite

and a plugin implementing ``register_publish_targets`` (see :mod:`.target`).
The built-in targets (directory, s3, git, rsync) live in :mod:`.targets` and
are registered exactly like third-party ones.
"""

from .ownership import path_patterns
from ..site.built import MANIFEST_NAME, BuiltSite
from .site import content_type, load_built_site
from .target import Change, Option, PublishTarget, boolean, integer_between, text, variable_name

__all__ = [
    "MANIFEST_NAME",
    "BuiltSite",
    "Change",
    "Option",
    "PublishTarget",
    "boolean",
    "content_type",
    "integer_between",
    "load_built_site",
    "path_patterns",
    "text",
    "variable_name",
]
