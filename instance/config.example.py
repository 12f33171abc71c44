# Copy to instance/config.py to override settings for this machine (see README, Configuration).
# DATABASE_URL = "postgresql+psycopg://registry@db.internal:5432/registry"
# KEYRING = "/run/secrets/registry-keyring.json"
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
# TRUSTED_PROXIES = 1
# MAX_CONTENT_LENGTH = 64 * 1024
# Identity escrow: the custodians' public key from `registry keys custodian-init` (base64 or a file).
# ESCROW_PUBLIC_KEY = "/etc/registry/custodian.pub"
# REIDENTIFICATION_EXPIRY_HOURS = 72
