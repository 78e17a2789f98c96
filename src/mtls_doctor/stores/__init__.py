"""Adapters for certificate stores (NSS databases) -> client identities."""
