"""Signing chain heads with a key that lives outside the database: settings, keys, statements, the stream.

A *statement* is a small JSON object (canonical form, models/events.py::canonical_json) naming what is attested:
a workspace's chain head (`roster.audit.checkpoint`) or a deleted workspace (`roster.audit.workspace_deleted`).
Its Ed25519 signature is stored beside the exact text signed, with the id of the key, so a checkpoint signed
before a key rotation still verifies with the old public key (AUDIT_VERIFY_KEYS). docs/audit.md.

The write path (chain.append_events) asks `due` whether the head it just moved should be signed: every
`every_events` events or `every_minutes` minutes, decided from the head row it already read, so the three
statements of an append stay three unless a checkpoint is due.
"""

import base64
import binascii
import contextvars
import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import os
import socket
import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ...events import SignedCheckpoint, canonical_json, format_time

log = logging.getLogger("roster.audit")

CHECKPOINT_TYPE = "roster.audit.checkpoint"
DELETION_TYPE = "roster.audit.workspace_deleted"


class AuditConfigError(RuntimeError):
    """An audit setting that cannot be used: a key that cannot be read (named, never its content), a bad address."""


@dataclasses.dataclass
class Settings:
    """The operator's audit settings (config.py), handed to the log by the web layer at start-up."""

    signing_key: Ed25519PrivateKey | None = None
    verify_keys: dict = dataclasses.field(default_factory=dict)  # key id -> Ed25519PublicKey
    every_events: int = 100
    every_minutes: int = 5
    checkpoint_file: str = ""
    min_retention_days: int = 365
    checkpoint_syslog: tuple | None = None  # (host, port): UDP syslog, RFC 5424

    @functools.cached_property
    def key_id(self):
        return key_id(self.signing_key.public_key()) if self.signing_key is not None else None


_settings = Settings()


def settings():
    """Return the audit settings in force."""
    return _settings


def configure(signing_key_path="", verify_keys="", every_events=100, every_minutes=5, checkpoint_file="",
              min_retention_days=365, checkpoint_syslog=""):
    """Load the signing key and the verification keys (config.py names them) and set the intervals."""
    global _settings
    signing = load_private_key(signing_key_path) if signing_key_path else None
    verify = load_public_keys(verify_keys)
    if signing is not None:
        verify[key_id(signing.public_key())] = signing.public_key()
    _settings = Settings(signing, verify, max(1, int(every_events)), max(1, int(every_minutes)),
                         checkpoint_file or "", max(0, int(min_retention_days)), syslog_address(checkpoint_syslog))
    return _settings


def syslog_address(text):
    """Parse AUDIT_CHECKPOINT_SYSLOG (`host:port`, `[v6 address]:port`) into (host, port), or None when empty."""
    if not text:
        return None
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AuditConfigError(f"AUDIT_CHECKPOINT_SYSLOG {text!r}: use host:port (UDP)")
    return host, int(port)


def use(new_settings):
    """Put `new_settings` in force; return the ones they replace (tests rotate keys with this)."""
    global _settings
    old, _settings = _settings, new_settings
    return old


# -- keys -------------------------------------------------------------------------------------------------------

def new_private_key():
    return Ed25519PrivateKey.generate()


def private_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_pem(key):
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key):
    """Return the id of a public key: the first 16 hex digits of SHA-256 over its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def write_private_key(path):
    """Create a new signing key at `path` (mode 0600, never overwritten); return it."""
    key = new_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_key_pem(key))
    return key


def load_private_key(path):
    """Read an Ed25519 private key (PEM, PKCS#8) from `path`."""
    try:
        with open(path, "rb") as source:
            key = serialization.load_pem_private_key(source.read(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise AuditConfigError(f"AUDIT_SIGNING_KEY {path}: cannot read an unencrypted PEM private key "
                        f"({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditConfigError(f"AUDIT_SIGNING_KEY {path}: not an Ed25519 key")
    return key


def _public_key_from_pem(path, data):
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise AuditConfigError(f"AUDIT_VERIFY_KEYS {path}: not a PEM key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditConfigError(f"AUDIT_VERIFY_KEYS {path}: not an Ed25519 key")
    return key


def load_public_keys(spec):
    """Return {key id: public key} from `spec`: files or directories (their *.pem) separated by os.pathsep."""
    keys = {}
    for entry in [p for p in (spec or "").split(os.pathsep) if p.strip()]:
        entry = entry.strip()
        paths = ([os.path.join(entry, name) for name in sorted(os.listdir(entry)) if name.endswith(".pem")]
                 if os.path.isdir(entry) else [entry])
        for path in paths:
            try:
                with open(path, "rb") as source:
                    data = source.read()
            except OSError as exc:
                raise AuditConfigError(f"AUDIT_VERIFY_KEYS {path}: cannot read ({exc.strerror})") from None
            key = _public_key_from_pem(path, data)
            keys[key_id(key)] = key
    return keys


# -- statements -------------------------------------------------------------------------------------------------

def sign(statement):
    """Return (text, key id, base64 signature) of a statement with the signing key, or (text, None, None)."""
    key = _settings.signing_key
    statement = dict(statement, key_id=_settings.key_id)
    text = canonical_json(statement)
    if key is None:
        return text, None, None
    return text, statement["key_id"], base64.b64encode(key.sign(text.encode("utf-8"))).decode("ascii")


def check_signature(text, kid, signature):
    """Return None when `signature` over `text` verifies with key `kid`, else what is wrong (a sentence)."""
    if not kid or not signature:
        return "it is not signed"
    public = _settings.verify_keys.get(kid)
    if public is None:
        return f"it is signed with key {kid}, which is not among the verification keys (AUDIT_VERIFY_KEYS)"
    try:
        public.verify(base64.b64decode(signature.encode("ascii"), validate=True), text.encode("utf-8"))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return f"its signature does not verify with key {kid}"
    try:
        signed_kid = json.loads(text).get("key_id")
    except (ValueError, AttributeError):
        return "its statement is not JSON"
    return None if signed_kid == kid else "its key id differs from the one it names"


def checkpoint_statement(workspace_id, seq, head_hash, time, reason, **extra):
    return dict(extra, type=CHECKPOINT_TYPE, workspace_id=workspace_id, seq=seq, hash=head_hash,
                time=format_time(time), reason=reason)


# -- the write path ---------------------------------------------------------------------------------------------

def due(last_seq, signed_seq, signed_at, now):
    """Tell whether the head now at `last_seq` should be signed (a key is set, and enough events or time)."""
    if _settings.signing_key is None:
        return False
    if signed_at is None:
        return True
    if isinstance(signed_at, str):
        signed_at = datetime.datetime.fromisoformat(signed_at)
    return (last_seq - (signed_seq or 0) >= _settings.every_events
            or now - signed_at >= datetime.timedelta(minutes=_settings.every_minutes))


_unstreamed = contextvars.ContextVar("roster_audit_unstreamed", default=())


def store_checkpoint(workspace_id, seq, head_hash, now, reason, **extra):
    """Sign a chain head and store the signed checkpoint in the current transaction; return its row."""
    text, kid, signature = sign(checkpoint_statement(workspace_id, seq, head_hash, now, reason, **extra))
    if signature is None:
        return None
    row = SignedCheckpoint.create(workspace_id=workspace_id, seq=seq, hash=head_hash, signed_at=now,
                                  reason=reason, key_id=kid, statement=text, signature=signature)
    if _settings.checkpoint_file or _settings.checkpoint_syslog:
        _unstreamed.set(_unstreamed.get() + (row.id,))
    return row


def stream_pending():
    """Append the checkpoints signed by committed transactions to AUDIT_CHECKPOINT_FILE (JSON Lines) and send
    them to AUDIT_CHECKPOINT_SYSLOG."""
    pending = _unstreamed.get()
    if not pending:
        return 0
    _unstreamed.set(())
    rows = list(SignedCheckpoint.select().where(SignedCheckpoint.id.in_(list(pending)))
                .order_by(SignedCheckpoint.id))
    for row in rows:  # a rolled-back transaction took its checkpoint with it: nothing to stream
        append_line(checkpoint_document(row))
    return len(rows)


_file_lock = threading.Lock()


def append_line(document):
    """Append one JSON line to AUDIT_CHECKPOINT_FILE in a single write (O_APPEND: workers never interleave), and
    send it to AUDIT_CHECKPOINT_SYSLOG."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if _settings.checkpoint_syslog:
        send_syslog(text)
    path = _settings.checkpoint_file
    if not path:
        return
    line = (text + "\n").encode("utf-8")
    try:
        with _file_lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
    except OSError:
        log.exception("could not append a signed checkpoint to AUDIT_CHECKPOINT_FILE %s", path)


def send_syslog(text):
    """Send one RFC 5424 message (facility authpriv, severity notice, app roster, msgid checkpoint) over UDP."""
    host, port = _settings.checkpoint_syslog
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    message = f"<{10 * 8 + 5}>1 {stamp} {socket.gethostname() or '-'} roster {os.getpid()} checkpoint - {text}"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode("utf-8"), (host, port))
    except OSError:
        log.exception("could not send a signed checkpoint to AUDIT_CHECKPOINT_SYSLOG %s:%s", host, port)


def checkpoint_document(row):
    """Render a signed checkpoint: what an auditor keeps, and what `GET {ws}/events/head` answers."""
    return {"workspace_id": row.workspace_id, "seq": row.seq, "hash": row.hash,
            "time": format_time(row.signed_at), "reason": row.reason, "key_id": row.key_id,
            "statement": row.statement, "signature": row.signature}
