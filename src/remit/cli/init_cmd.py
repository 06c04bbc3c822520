"""`remit init [DIR]`: scaffold a working set-up — an envelope skeleton with comments, key
pairs in `keys/` (private keys 0600, one per purpose: envelope sign-off and ledger log),
a `.gitignore` that covers them, a config file for `remit serve`, an empty ledger — and
print the next commands. It writes nothing unless every file it would write is absent."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import typer

from remit.cli.common import UNREACHABLE, fail
from remit.domain.clock import utcnow
from remit.envelope import EnvelopeError, load_envelope
from remit.ledger.open import open_store
from remit.ledger.store import LedgerUnavailable
from remit.signing.keys import (
    KeyFormatError,
    generate_signing_key,
    validate_key_name,
    write_key_pair,
)

ENVELOPE = """\
# Remit policy envelope: what your AI agents may decide, and how (see docs/envelope.md).
# Check it with `remit envelope check envelope.yaml`; it is authority only once signed off:
#   remit envelope sign envelope.yaml --key keys/signoff.key --signer you@{org} --role CISO
apiVersion: remit.dev/v1
kind: Envelope
metadata:
  name: {name}
  version: 1
  owner: security@{org}
  threat_model: "Describe what you defend against, e.g. credential theft."
  review_every: P90D                 # re-sign at least this often (ISO-8601 duration)
  expires_at: "{expires}"
  revalidate_on: [acquisition, regulation_change, architecture_change, model_update]
defaults:
  unmatched: deny                    # what is not covered by a rule is denied
  out_of_workflow: approve
  severity_floors:                   # by the IAM access level of the action
    "Permissions management": approve
  reasoning:                         # what a request must explain at each tier
    autonomous: [summary, signals, confidence]
    approve: [summary]
  approval_timeout: PT1H
agents:
  my-agent:                          # the id an agent's API key is bound to
    service_account: arn:aws:iam::{account}:role/my-agent
    models: [{{name: my-model, version: "1"}}]   # the models validated for this agent
rules:
  - id: R1-read                      # reads in the account: no human needed
    agents: [my-agent]
    actions: ["iam:List*", "iam:Get*", "s3:ListBucket"]
    resources: ["arn:aws:iam::{account}:*", "arn:aws:s3:::*"]
    allow_wildcards: true
    tier: autonomous
  - id: R2-change-roles              # changes to roles: a person approves each one
    agents: [my-agent]
    actions: ["iam:DetachRolePolicy", "iam:DeleteRolePolicy"]
    resources: ["arn:aws:iam::{account}:role/*"]
    tier: approve
"""

CONFIG = """\
# `remit serve --config remit.yaml` (docs/service.md lists every setting).
envelope: envelope.yaml
trusted_keys: [keys/signoff.pub]     # public keys whose sign-offs make the envelope authority
db: .remit/remit.db                  # or postgresql://user@host:5432/remit
log_key: keys/log.key                # signs ledger checkpoints; never an envelope
host: 127.0.0.1
port: 8700
aws:
  backend: local                     # sts: real (or moto) AWS credentials per step
  region: us-east-1
"""

GITIGNORE = """\
# Written by `remit init`: private keys and the ledger stay out of version control.
keys/*.key
*.key
.remit/
*.db
*.db-wal
*.db-shm
"""


def init(
    folder: Path = typer.Argument(Path(), help="Folder to set up (created if missing)."),
    org: str = typer.Option("example.com", "--org", help="Your domain: names the keys."),
    name: str = typer.Option("my-envelope", "--name", help="The envelope's name."),
    account: str = typer.Option(
        "111122223333", "--account", help="Your AWS account id (12 digits)."
    ),
) -> None:
    """Scaffold a working set-up in FOLDER and print the next commands to run."""
    if not (account.isdigit() and len(account) == 12):
        fail(f"--account: {account!r} is not a 12-digit AWS account id")
    try:
        validate_key_name(f"{org}/envelope-signoff")
    except KeyFormatError as exc:
        fail(f"--org: {exc}")
    targets = [
        folder / "envelope.yaml",
        folder / "remit.yaml",
        folder / ".gitignore",
        folder / "keys",
        folder / ".remit" / "remit.db",
    ]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        fail(f"{folder}: already has {', '.join(existing)}; nothing was written")
    if folder.exists() and not folder.is_dir():
        fail(f"{folder} is a file, not a folder")
    expires = (utcnow() + timedelta(days=365)).strftime("%Y-%m-%dT00:00:00Z")
    text = ENVELOPE.format(name=name, org=org, account=account, expires=expires)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "envelope.yaml").write_text(text, "utf-8")
    try:
        load_envelope(folder / "envelope.yaml")
    except EnvelopeError as exc:  # a bad --name: undo and say so
        (folder / "envelope.yaml").unlink()
        fail(f"--name {name!r}: the envelope would not be valid:\n{exc}")
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    keys.chmod(0o700)  # whatever the umask
    write_key_pair(keys / "signoff", generate_signing_key(f"{org}/envelope-signoff"))
    write_key_pair(keys / "log", generate_signing_key(f"{org}/remit-log"))
    (folder / "remit.yaml").write_text(CONFIG, "utf-8")
    (folder / ".gitignore").write_text(GITIGNORE, "utf-8")
    try:
        open_store(str(folder / ".remit" / "remit.db"), create=True).close()
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    d = "" if folder == Path() else f"cd {folder} && "
    sys.stderr.write(
        f"""Set up in {folder}:
  envelope.yaml       the policy (a skeleton: edit agents and rules)
  keys/signoff.key    signs the envelope off (private, mode 600; trust keys/signoff.pub)
  keys/log.key        signs ledger checkpoints (private, mode 600; never signs envelopes)
  remit.yaml          settings for `remit serve --config remit.yaml`
  .remit/remit.db     the ledger (SQLite)
  .gitignore          keeps private keys and the ledger out of git

Next:
  {d}remit envelope check envelope.yaml
  remit envelope sign envelope.yaml --key keys/signoff.key --signer you@{org} --role CISO
  remit keys create --role agent --agent my-agent --name my-agent --envelope envelope.yaml
  remit serve --config remit.yaml
"""
    )
