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
    :param settings: the validated :class:`billing_reports.settings.Settings`;
        ``settings.plugin(NAME)`` is this plugin's own block (see ``register_settings``).
    :return: nothing; sections are passed to ``register``. The site orders
        sections by ``Section.order``, then by slug; ``Section.roles`` puts a
        section on the dashboard or in the text report.
    """


@hookspec
def register_settings(register):
    """Declare this plugin's block of settings, ``plugins.NAME`` in ``config.yaml``.

    :param register: call ``register(name, settings_class)`` once: ``name`` is the
        block's key under ``plugins:`` (``billing-reports plugins`` shows it),
        ``settings_class`` a ``msgspec.Struct`` whose fields, with their types,
        defaults and ``msgspec.Meta`` constraints and descriptions, are the
        block's keys. The block is checked with the rest of the config before
        anything runs; the plugin reads the object, ``settings.plugin(name)``.
    :return: nothing.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``billing-reports`` command line.

    Called for the built-in and installed (entry-point) plugins only: the command
    line is parsed before ``config.yaml`` names a ``paths.plugins_dir``.

    :param cli: the ``billing-reports`` :class:`click.Group`; add commands with
        ``@cli.command()`` or ``cli.add_command(command)``.
    :return: nothing.
    """


@hookspec
def register_pages(register, usage, settings):
    """Add whole pages to the site that are not sections (their own template and layout).

    :param register: call ``register(page)`` with a :class:`billing_reports.Page`
        for each page; its ``template`` (from ``register_template_dirs``) is
        rendered with the site's context (``site``, ``root``) and the page's
        ``context``, to ``SLUG.html``.
    :param usage: the loaded :class:`billing_reports.usage.OnDemandUsage`.
    :param settings: the validated :class:`billing_reports.settings.Settings`.
    :return: nothing. A page with ``nav`` is linked from every page's navigation.
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


@hookspec
def register_alert_rules(register, usage, settings):
    """Add alerts about the analysed usage (``billing-reports check``, the site's alerts page).

    :param register: call ``register(alert)`` with a :class:`billing_reports.alerts.Alert` for each
        thing someone should be told (a budget passed, a spike, a member near their limit...).
    :param usage: the loaded :class:`billing_reports.usage.OnDemandUsage` of the period checked.
    :param settings: the validated settings (``settings.plugin(NAME)`` is the rule's own block).
    :return: nothing.
    """


@hookspec
def register_notifiers(register):
    """Add kinds of notifier (where ``billing-reports check`` sends alerts).

    :param register: call ``register(kind, factory)``; ``kind`` is the ``type:`` of a notifier under
        ``notify:`` in ``config.yaml``; ``factory(name, options, settings)`` returns a
        :class:`billing_reports.alerts.Notifier` (options: that notifier's mapping, validated by the
        factory, which raises ``ConfigError`` naming the key).
    :return: nothing.
    """



@hookspec
def register_groups(register, usage, settings):
    """Say who is in which group on which day, for what the core itself charges to groups (the
    ``x_Group`` column of ``billing-reports export``).

    :param register: call ``register(directory)`` once with a
        :class:`billing_reports.groups.GroupDirectory` (``group_of(user, day)``), or not at all when
        this plugin knows no groups for these settings. At most one plugin may register one.
    :param usage: the loaded :class:`billing_reports.usage.OnDemandUsage` (``usage.cursor`` holds
        Cursor's billing groups where a fetch kept them).
    :param settings: the validated settings (``settings.plugin(NAME)`` is the plugin's own block).
    :return: nothing.
    """
