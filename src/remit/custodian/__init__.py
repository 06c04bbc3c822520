"""Governed Cloud Custodian runs (`remit custodian run POLICY.yml`): a c7n policy is run in
dry-run to find its resources, each of its actions on each batch of resources becomes Remit
decisions (one per IAM action the Custodian action needs, from the declared table in
`actions.py`), and only the allowed batches are acted on — by c7n's own action classes,
with every AWS call signed by the credentials granted for the decision that covers it.

What this package does not do: decide (the Remit service does), parse the ledger, or print
(the CLI module `remit.cli.custodian_cmd` does)."""
