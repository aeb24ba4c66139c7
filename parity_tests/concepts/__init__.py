"""One module per concept id: each registers that concept's parity checks (see ``registry``).

Modules here are discovered automatically; adding a concept means adding its module.
"""
