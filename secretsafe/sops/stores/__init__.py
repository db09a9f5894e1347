"""One module per sops file format: text to a tree of values and metadata, and back.

A store owns its syntax and its key rules; the crypto core (:mod:`secretsafe.sops.crypto`)
and the tree walk (:mod:`secretsafe.sops.native`) never see the text.
"""
