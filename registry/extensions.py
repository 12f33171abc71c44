"""Extension singletons, bound to the app in create_app."""

from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from registry.api.ratelimit import client_key, counts_failed_auth
from registry.api.spec import RegistryApi
from registry.database import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = RegistryApi()
# Keys are HMAC(daily key, IP); the default limit counts failed authentications only.
limiter = Limiter(key_func=client_key, default_limits_deduct_when=counts_failed_auth)
