"""Secrets: redaction wherever we write, encryption at rest, provider keys and their rotation,
and secrets passed by reference."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "redact": [
            "REDACTED",
            "looks_secret_key",
            "redact",
            "redact_text",
            "scrub",
            "scrub_text",
            "secrets_from_environment",
        ],
        "encryption": ["MissingEncryptionKey", "SecretBox", "UndecryptableSecret", "generate_key"],
        "encrypted_fields": [
            "ENCRYPTED_FIELDS",
            "EncryptedField",
            "register",
            "rotate_encrypted_fields",
            "verify_encrypted_fields",
        ],
        "principals": ["Principal", "PrincipalKind", "Scope"],
        "provider_keys": ["RotationReport", "rotate_provider_keys", "set_provider"],
        "secret_refs": [
            "SecretNotGranted",
            "UnknownSecret",
            "conceal",
            "grant_env_secret",
            "granted_references",
            "has_references",
            "is_reference",
            "references_in",
            "resolve_references",
            "revoke_env_secret",
            "store_tenant_secret",
        ],
    },
)
