"""Pure identity-crypto building blocks: IIN, names, codes, linkage, AEAD, escrow (no Flask)."""
