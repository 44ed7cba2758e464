"""Layered configuration: safe YAML, merging with origins, overrides, references, schema.

``manager.ConfigManager`` builds a case's configuration from global → env → case →
``--params`` → ``--set`` and validates it against ``schema``.
"""
