"""The Remit service: FastAPI over the decision core, the ledger and the workflows."""
