"""Flask's JSON through orjson: the same answers, written and read several times faster."""

import orjson
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses still go through Flask's own conversion, so answers keep their form.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


class OrjsonProvider(DefaultJSONProvider):
    """The JSON of every answer (and of request.get_json); non-ASCII text goes out as UTF-8."""

    def _options(self) -> int:
        return _OPTIONS | orjson.OPT_SORT_KEYS if self.sort_keys else _OPTIONS

    def dumps(self, obj, **kwargs) -> str:
        """Serialise to text."""
        return orjson.dumps(obj, default=self.default, option=self._options()).decode()

    def loads(self, s: str | bytes, **kwargs):
        """Parse JSON text; NaN and Infinity, which JSON has not, are malformed here."""
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        """Answer with JSON, ending in a newline as Flask's own provider does."""
        obj = self._prepare_response_obj(args, kwargs)
        options = self._options() | orjson.OPT_APPEND_NEWLINE
        body = orjson.dumps(obj, default=self.default, option=options)
        return self._app.response_class(body, mimetype=self.mimetype)
