"""The approve tier: pending approvals bound to the exact request, separation of duties,
expiry that counts as deny."""
