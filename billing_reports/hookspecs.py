"""The hooks a billing-reports plugin can implement.

Each hook takes a ``register`` callback: call it as often as you like. An
implementation may accept fewer arguments than the spec lists (pluggy passes
only the ones it names), so hooks can grow without breaking plugins.
"""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("billing_reports")
hookimpl = HookimplMarker("billing_reports")


@hookspec
def register_sections(register, usage, settings):
    """Add report sections computed from the on-demand usage.

    :param register: call ``register(section)`` with a
        :class:`billing_reports.Section` for each section this plugin adds.
    :param usage: the loaded :class:`billing_reports.usage.OnDemandUsage`
        (months in range, per month/user/model totals, data-quality facts).
    :param settings: the validated :class:`billing_reports.settings.Settings`.
    :return: nothing; sections are passed to ``register``. The site orders
        sections by ``Section.order``, then by slug.
    """


@hookspec
def register_publish_targets(register):
    """Add kinds of publish target (where ``billing-reports publish`` can send the site).

    :param register: call ``register(kind, target_class)``; ``kind`` is the
        ``type:`` a target has in the ``publish:`` section of ``config.yaml``,
        ``target_class`` implements :class:`billing_reports.publish.PublishTarget`.
    :return: nothing.
    """


@hookspec
def register_template_dirs(register):
    """Add a directory of Jinja2 templates the site can use.

    Looked up after the user's own template directory and before the built-in
    templates, so a plugin can ship the template its section names in
    ``Section.template``.

    :param register: call ``register(path)`` with a directory path.
    :return: nothing.
    """
