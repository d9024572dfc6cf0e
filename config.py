"""Configuration: defaults overridden by environment variables, read once at app creation."""

import os
import secrets

ENV_KEYS = {
    # name: (default, description) - the README lists these.
    "DATABASE_URL": (None, "sqlite:///<instance>/roster.db by default, or postgresql://user@host:5432/db"),
    "SECRET_KEY": (None, "Signs SSO state; required unless testing (make run generates one)"),
    "PUBLIC_URL": ("http://127.0.0.1:8000", "Base URL used in mailed links, SCIM Location and SSO URLs"),
    "SMTP_HOST": ("", "SMTP server; when empty, mail is written to the log instead"),
    "SMTP_PORT": ("25", "SMTP port"),
    "SMTP_USERNAME": ("", "SMTP login (optional)"),
    "SMTP_PASSWORD": ("", "SMTP password (optional)"),
    "SMTP_STARTTLS": ("false", "Use STARTTLS"),
    "SMTP_SSL": ("false", "Use SMTP over TLS"),
    "MAIL_FROM": ("Roster <no-reply@roster.local>", "Sender address"),
    "SCIM_MAX_RESULTS": ("1000", "Largest SCIM page size"),
    "AUDIT_LOG": ("true", "Record the provisioning log; turn off only to measure what it costs (bench/)"),
    "LOG_FORMAT": ("json", "json: one JSON object per line (production); text: plain lines (make run)"),
    "METRICS_TOKEN": ("", "Bearer token an operator's Prometheus sends to /metrics; empty: /metrics answers 404"),
    "RATE_LIMITS": ("on", "off disables every request-rate limit (benchmarks, conformance runs)"),
    "RATE_LIMIT_SCIM": ("50/second", "Per-token request rate (flask-limiter notation); bursts of twice it pass"),
    "RATE_LIMIT_STORAGE_URL": ("", "redis://host:6379/0 to share rate-limit counters between processes and "
                                   "nodes; empty: per-process memory (one process only)"),
    "PROXY_COUNT": ("0", "Number of trusted proxies (load balancers) in front: their X-Forwarded-For names the "
                         "client address that per-IP limits and logs use"),
}

TRUE = {"1", "true", "yes", "on"}


def load(instance_path, overrides=None):
    """Return the configuration mapping from the environment, then `overrides`."""
    env = {key: os.environ.get(key, default) for key, (default, _) in ENV_KEYS.items()}
    config = {
        "DATABASE_URL": env["DATABASE_URL"] or f"sqlite:///{os.path.join(instance_path, 'roster.db')}",
        "SECRET_KEY": env["SECRET_KEY"],
        "PUBLIC_URL": env["PUBLIC_URL"].rstrip("/"),
        "SMTP_HOST": env["SMTP_HOST"],
        "SMTP_PORT": int(env["SMTP_PORT"]),
        "SMTP_USERNAME": env["SMTP_USERNAME"],
        "SMTP_PASSWORD": env["SMTP_PASSWORD"],
        "SMTP_STARTTLS": env["SMTP_STARTTLS"].lower() in TRUE,
        "SMTP_SSL": env["SMTP_SSL"].lower() in TRUE,
        "MAIL_FROM": env["MAIL_FROM"],
        "SCIM_MAX_RESULTS": int(env["SCIM_MAX_RESULTS"]),
        "AUDIT_LOG": env["AUDIT_LOG"].lower() in TRUE,
        "LOG_FORMAT": env["LOG_FORMAT"].strip().lower(),
        "METRICS_TOKEN": env["METRICS_TOKEN"],
        "RATE_LIMITS": env["RATE_LIMITS"].strip().lower() in TRUE,
        "RATE_LIMIT_SCIM": env["RATE_LIMIT_SCIM"].strip(),
        "RATE_LIMIT_STORAGE_URL": env["RATE_LIMIT_STORAGE_URL"].strip(),
        "PROXY_COUNT": int(env["PROXY_COUNT"]),
        "TESTING": False,
    }
    config.update(overrides or {})
    if config["LOG_FORMAT"] not in ("json", "text"):
        raise RuntimeError("LOG_FORMAT must be json or text")
    if not config["SECRET_KEY"]:
        if not config["TESTING"]:
            raise RuntimeError("SECRET_KEY is not set: export SECRET_KEY (make run creates one in instance/)")
        config["SECRET_KEY"] = secrets.token_hex(32)
    return config
