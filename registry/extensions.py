"""Extension singletons, bound to the app in create_app."""

from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

from registry.api.ratelimit import client_key, has_no_limits
from registry.api.spec import RegistryApi
from registry.database import Base, refuse_flushes_if_read_only

db = SQLAlchemy(model_class=Base)
# A view marked read-only that flushes fails loudly (its transaction holds no write lock).
event.listen(db.session, "before_flush", refuse_flushes_if_read_only)
migrate = Migrate()
api = RegistryApi()
# Keys are HMAC(daily key, IP): no raw client address is kept, even in the limit store.
limiter = Limiter(key_func=client_key)
limiter.request_filter(has_no_limits)
