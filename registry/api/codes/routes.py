"""Code lists: TDI 3.0 admission items, ICD-10 F10-F19, reasons, units, medications, outcomes."""

from registry.api.blueprint import ApiBlueprint
from registry.database import read_only
from registry.episodes.codes import served

blp = ApiBlueprint(
    "codes", __name__, url_prefix="/api/v1/codes", description="Code lists of the registry"
)


@blp.route("", methods=["GET"])
@read_only
@blp.public
@blp.response(200, description="Every code list with labels in Russian, Kazakh and English")
def code_lists():
    """Return the code lists (public: they are reference data, not clinical data)."""
    return served()
