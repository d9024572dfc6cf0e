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
    "CONSOLE_IDLE_MINUTES": ("60", "Console sessions end after this many minutes without a request"),
    "CONSOLE_SESSION_HOURS": ("12", "Console sessions end this many hours after sign-in, whatever the activity"),
    "SSO_ALLOW_PRIVATE_NETWORK": ("false", "Let SSO fetch metadata/discovery from private and loopback "
                                  "addresses (IdPs on the operator's own network; tests). Never a tenant setting"),
    "SSO_DNS_NAMESERVERS": ("", "Comma-separated DNS servers (host or host:port) for domain verification; "
                            "empty: the system's resolvers"),
    "AUDIT_LOG": ("true", "Record the provisioning log; turn off only to measure what it costs (bench/)"),
    "AUDIT_SIGNING_KEY": ("", "Path of the Ed25519 private key (PEM) that signs checkpoints of the log; required "
                              "unless testing (make run creates instance/audit_signing_key.pem)"),
    "AUDIT_VERIFY_KEYS": ("", "Public keys of earlier signing keys (PEM files or directories of *.pem, separated "
                              "by ':'), so checkpoints signed before a rotation still verify"),
    "AUDIT_CHECKPOINT_EVERY": ("100", "Sign a workspace's chain head every this many events"),
    "AUDIT_CHECKPOINT_MINUTES": ("5", "... or at its first event this many minutes after the last signature"),
    "AUDIT_CHECKPOINT_FILE": ("", "Append every signed checkpoint to this file as JSON Lines (for a SIEM)"),
    "AUDIT_CHECKPOINT_SYSLOG": ("", "Also send every signed checkpoint to this syslog receiver (host:port, UDP)"),
    "AUDIT_MIN_RETENTION_DAYS": ("365", "No workspace may set audit.retention_days below this (0 keeps all)"),
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
        "CONSOLE_IDLE_MINUTES": int(env["CONSOLE_IDLE_MINUTES"]),
        "CONSOLE_SESSION_HOURS": int(env["CONSOLE_SESSION_HOURS"]),
        "SSO_ALLOW_PRIVATE_NETWORK": env["SSO_ALLOW_PRIVATE_NETWORK"].lower() in TRUE,
        "SSO_DNS_NAMESERVERS": tuple(n.strip() for n in env["SSO_DNS_NAMESERVERS"].split(",") if n.strip()),
        "AUDIT_SIGNING_KEY": env["AUDIT_SIGNING_KEY"],
        "AUDIT_VERIFY_KEYS": env["AUDIT_VERIFY_KEYS"],
        "AUDIT_CHECKPOINT_EVERY": int(env["AUDIT_CHECKPOINT_EVERY"]),
        "AUDIT_CHECKPOINT_MINUTES": int(env["AUDIT_CHECKPOINT_MINUTES"]),
        "AUDIT_CHECKPOINT_FILE": env["AUDIT_CHECKPOINT_FILE"],
        "AUDIT_CHECKPOINT_SYSLOG": env["AUDIT_CHECKPOINT_SYSLOG"],
        "AUDIT_MIN_RETENTION_DAYS": int(env["AUDIT_MIN_RETENTION_DAYS"]),
        "AUDIT_SIGNING_OPTIONAL": False,  # the command line may run without the key (it then signs nothing)
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
    if not config["AUDIT_SIGNING_KEY"] and not (config["TESTING"] or config["AUDIT_SIGNING_OPTIONAL"]):
        raise RuntimeError("AUDIT_SIGNING_KEY is not set: point it at an Ed25519 key file (`roster audit keygen "
                           "PATH` creates one; make run creates instance/audit_signing_key.pem)")
    return config
