"""Just-in-time credentials: scoped session policies, STS and local backends, revocation,
effective permissions."""
