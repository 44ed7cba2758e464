"""The extension point and how plugins are found: ``BasePlugin``, discovery, docs.

``base`` defines the contract, ``loader`` imports a plugin from its location alone (in
any process), ``registry`` discovers plugins in folders and entry points, ``docs`` writes
PLUGINS.md, and ``builtin`` holds the plugins shipped with the framework (found through
the same entry-point group as anyone's).
"""
