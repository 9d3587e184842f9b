"""proofwatch: self-hosted photo-proof verifier."""

__version__ = "0.1.0"
