"""HTTP API: blueprints with their schemas, and the OpenAPI document."""

from flask import Flask

from registry.api.spec import API_SETTINGS


def register_api(app: Flask) -> None:
    """Bind flask-smorest and register every blueprint."""
    from registry.api.audit.routes import blp as audit_blp
    from registry.api.clinics.routes import blp as clinics_blp
    from registry.api.codes.routes import blp as codes_blp
    from registry.api.converters import bound_integer_paths
    from registry.api.docs import docs
    from registry.api.episodes.routes import blp as episodes_blp
    from registry.api.episodes.routes import migrations_blp
    from registry.api.health.routes import blp as health_blp
    from registry.api.imports.routes import blp as imports_blp
    from registry.api.links import LinksPlugin
    from registry.api.me.routes import blp as me_blp
    from registry.api.oversight.routes import blp as oversight_blp
    from registry.api.patients.routes import blp as patients_blp
    from registry.api.protocols.routes import blp as protocols_blp
    from registry.api.public.routes import blp as public_blp
    from registry.api.reidentifications.routes import blp as reidentifications_blp
    from registry.api.slots.routes import blp as clinic_access_blp
    from registry.api.stats.routes import blp as stats_blp
    from registry.extensions import api

    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api.init_app(app, spec_kwargs={"extra_plugins": [LinksPlugin()]})
    bound_integer_paths(app, api)
    for blueprint in (
        health_blp,
        me_blp,
        clinics_blp,
        clinic_access_blp,
        public_blp,
        audit_blp,
        oversight_blp,
        patients_blp,
        reidentifications_blp,
        protocols_blp,
        codes_blp,
        episodes_blp,
        migrations_blp,
        stats_blp,
        imports_blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(docs)
