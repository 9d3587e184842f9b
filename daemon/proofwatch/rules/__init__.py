"""Verification rules: the TOML language (loader), what a rule is (model), deciding (decide)."""
