"""The console's home: what the signed-in user can do here, by role."""

from flask import g, render_template

from registry.auth import credentials
from registry.auth.models import Role
from registry.console.blueprint import console
from registry.console.guard import console_roles


@console.route("/console/", methods=["GET"])
@console_roles(*Role)
def home():
    """List the user's tasks for each role they hold."""
    return render_template(
        "console/home.html",
        roles=sorted(g.user.roles),
        has_second_factor=credentials.has_second_factor(g.user.id),
        second_factor_required=credentials.second_factor_required(g.user.roles),
    )
