"""Refusing silent mistakes, and exit codes as documented: every command run with bad
input exits 2 with a message naming what was wrong, and writes nothing; a database that
cannot be reached exits 3; a writing command never starts a new SQLite ledger unless
asked (--init); event kinds, database URLs, trust anchors, key purposes and agents are
checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.cli.clikit import NOW, copy_examples, ok, remit, tree_files
from tests.cli.clitree import commands
from tests.cli.conftest import Keys

DECIDE = ["decide", "--envelope", "envelope.yaml", "--request", "request.json", "--now", NOW]

# (arguments, a fragment the error message must contain). {pub}, {key} and {log} are the
# test's CISO public and private key and the log key; every run is in a folder holding
# the signed example envelope and request, and an existing ledger `ledger.db`.
BAD_INPUT: list[tuple[list[str], str]] = [
    (["nosuchcommand"], "No such command"),
    (["decide", "--envelope", "missing.yaml", "--request", "request.json", "--db", "ledger.db"],
     "missing.yaml"),
    (["decide", "--envelope", "envelope.yaml", "--request", "missing.json", "--db", "ledger.db"],
     "--request missing.json"),
    ([*DECIDE, "--db", "ledger.db", "--now", "yesterday"], "--now: not an ISO-8601 time"),
    ([*DECIDE, "--db", "nosuch.db"], "--db nosuch.db: no ledger there"),
    ([*DECIDE, "--db", "mysql://db.example.com/remit"], "scheme 'mysql' is not supported"),
    ([*DECIDE, "--db", "sqlite://ledger.db"], "an SQLite URL is sqlite:///"),
    ([*DECIDE, "--db", "ledger.db", "--fail-on", "denny"], "did you mean 'deny'"),
    ([*DECIDE, "--db", "ledger.db", "--format", "yaml"], "--format"),
    ([*DECIDE, "--db", "ledger.db", "--trusted-keys", "{key}"], "PRIVATE key"),
    (["event", "add", "--kind", "acquisiton", "--db", "ledger.db"], "did you mean 'acquisition'"),
    (["event", "add", "--kind", "Bad Kind", "--db", "ledger.db"], "--kind"),
    (["event", "add", "--kind", "acquisition", "--db", "nosuch.db"], "no ledger there"),
    (["event", "add", "--kind", "acquisition", "--at", "soon", "--db", "ledger.db"], "--at"),
    (["keys", "create", "--role", "agent", "--agent", "remediatr", "--name", "bot",
      "--envelope", "envelope.yaml", "--db", "ledger.db"], "did you mean 'remediator'"),
    (["keys", "create", "--role", "agent", "--agent", "remediator", "--name", "bot",
      "--db", "nosuch.db"], "no ledger there"),
    (["keys", "create", "--role", "overlord", "--name", "x", "--db", "ledger.db"], "--role"),
    (["keys", "list", "--db", "nosuch.db"], "no ledger there"),
    (["keys", "list", "--db", "ledger.db", "--format", "xml"], "--format"),
    (["keys", "revoke", "nosuchkey", "--db", "ledger.db"], "no active key nosuchkey"),
    (["envelope", "check", "missing.yaml"], "missing.yaml"),
    (["envelope", "sign", "envelope.yaml", "--key", "{log}", "--signer", "a@example.com",
      "--role", "CISO"], "ledger log key"),
    (["envelope", "sign", "envelope.yaml", "--key", "missing.key", "--signer", "a@example.com",
      "--role", "CISO"], "--key missing.key"),
    (["envelope", "status", "envelope.yaml", "--trusted-keys", "{key}"], "PRIVATE key"),
    (["envelope", "status", "envelope.yaml", "--db", "mysql://x/y"], "not supported"),
    (["inventory", "missing.yaml"], "missing.yaml"),
    (["keygen", "--out", "nofolder/k"], "folder nofolder does not exist"),
    (["ledger", "prove", "--index", "0", "--db", "nosuch.db"], "no ledger there"),
    (["ledger", "export", "--format", "csv", "--db", "ledger.db"], "--format must be one of"),
    (["ledger", "verify", "--public-key", "missing.pub", "--db", "ledger.db"], "--public-key"),
    (["ledger", "checkpoint", "--db", "ledger.db"], "no log signing key"),
    (["serve", "--envelope", "envelope.yaml", "--trusted-keys", "{pub}", "--db", "nosuch.db"],
     "no ledger there"),
    (["serve", "--envelope", "missing.yaml", "--db", "ledger.db"], "missing.yaml"),
    (["serve", "--envelope", "envelope.yaml", "--trusted-keys", "{key}", "--db", "ledger.db"],
     "PRIVATE key"),
    (["serve", "--envelope", "envelope.yaml", "--trusted-keys", "{pub}", "--log-key", "{key}",
      "--db", "ledger.db"], "log key is also a --trusted-keys entry"),
    (["serve", "--envelope", "envelope.yaml", "--db", "mysql://db/remit"], "not supported"),
    (["serve", "--config", "missing.yaml"], "missing.yaml"),
    (["init", ".", "--account", "12"], "--account"),
    (["init", "."], "already has"),
    (["demo", "--workdir", "."], "--workdir"),
    (["decisions", "list", "--db", "ledger.db", "--since", "last week"], "--since"),
    (["decisions", "list", "--db", "nosuch.db"], "no ledger there"),
    (["decisions", "show", "dec_nope", "--db", "ledger.db"], "no decision dec_nope"),
    (["events", "list", "--db", "nosuch.db"], "no ledger there"),
    (["event", "list", "--db", "ledger.db", "--format", "csv"], "--format"),
    (["ledger", "log", "--db", "nosuch.db"], "no ledger there"),
    (["approvals", "list", "--state", "pendng", "--api-key", "k"], "--state"),
    (["approvals", "list", "--url", "http://[bad", "--api-key", "k"], "--url"),
    (["approvals", "approve", "dec_x"], "--api-key"),
    (["doctor", "--config", "missing.yaml"], "missing.yaml"),
    (["envelope", "test", "envelope.yaml", "missing-cases.yaml"], "missing-cases.yaml"),
    (["envelope", "diff", "envelope.yaml", "missing.yaml"], "missing.yaml"),
    (["rollback", "dec_x"], "--api-key"),
    (["report", "--envelope", "envelope.yaml", "--db", "ledger.db", "--period", "2026-Q5"],
     "period '2026-Q5'"),
    (["reconcile", "--db", "ledger.db", "--since", "yesterday"], "--since"),
    (["envelope", "whatif", "missing.yaml", "--db", "ledger.db"], "missing.yaml"),
    (["envelope", "schema", "extra"], "unexpected extra argument"),
    (["review", "sample", "--db", "ledger.db", "--period", "2026-13"], "--period"),
    (["review", "verdict", "dec_x", "--verdict", "great", "--reviewer", "r@example.com",
      "--db", "ledger.db"], "--verdict"),
    (["review", "report", "smp_nope", "--db", "ledger.db"], "smp_nope"),
    (["review", "changes", "--db", "ledger.db", "--sign"], "give --period"),
    (["drift", "--db", "nosuch.db"], "no ledger there"),
    (["drift", "review", "nope", "--reviewer", "r@example.com", "--comment", "ok",
      "--db", "ledger.db"], "nope"),
    (["ledger", "consistency", "--from", "5", "--to", "2", "--db", "ledger.db"], "--from"),
    (["ledger", "bundle", "--out", "b.json", "--public-key", "missing.pub", "--db", "ledger.db"],
     "--public-key"),
    (["evidence", "--framework", "soc3", "--period", "2026-Q4", "--out", "p.zip",
      "--db", "ledger.db"], "soc3"),
    (["evidence", "verify", "missing.zip", "--public-key", "{pub}"], "missing.zip"),
    (["cloudtrail", "ingest", "missing.json.gz", "--db", "ledger.db"], "missing.json.gz"),
    (["cloudtrail", "export-index", "--out", "idx", "--envelope", "missing.yaml",
      "--db", "ledger.db"], "missing.yaml"),
    (["cloudtrail", "moto-trail", "--endpoint-url", "http://127.0.0.1:1"], "--out is required"),
    (["cloudtrail", "stats", "--top", "0", "--db", "ledger.db"], "--top"),
    (["audit", "service-accounts", "--envelope", "missing.yaml"], "missing.yaml"),
    (["mcp", "proxy", "--account", "123456789012"], "no upstream command"),
    (["custodian", "run", "missing-policy.yml", "--url", "http://127.0.0.1:9", "--api-key", "k",
      "--agent", "remediator"], "missing-policy.yml"),
    (["approvals", "show", "dec_x", "--url", "http://[bad", "--api-key", "k"], "--url"),
    (["approvals", "reject", "dec_x"], "--api-key"),
]  # fmt: skip


def _command_of(args: list[str], tree: set[str]) -> str | None:
    """The command a case runs: its longest leading words that name one (`events` is
    the alias of `event`)."""
    words = ["event" if w == "events" else w for w in args]
    for n in range(min(3, len(words)), 0, -1):
        if " ".join(words[:n]) in tree:
            return " ".join(words[:n])
    return None


def test_every_command_has_a_bad_input_case() -> None:
    """Walked from the command tree: a new command without a case above fails here."""
    tree = set(commands())
    covered = {_command_of(args, tree) for args, _ in BAD_INPUT}
    missing = sorted(tree - covered)
    assert not missing, f"commands with no bad-input case in BAD_INPUT: {missing}"
    assert None in covered  # and an unknown command (`nosuchcommand`) is one of the cases


@pytest.fixture(scope="module")
def world_made(tmp_path_factory: pytest.TempPathFactory, keys: Keys, signoffs: Path) -> Path:
    """The signed example in a folder, with a ledger made by one decision (once)."""
    folder = copy_examples(tmp_path_factory.mktemp("world"), signoffs)
    ok(remit(*DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "ledger.db", "--init",
             cwd=folder))  # fmt: skip
    return folder


@pytest.fixture
def world(tmp_path: Path, world_made: Path) -> Path:
    """A copy of `world_made` of its own for each test (the decide process has exited, so
    the ledger's files are whole)."""
    return Path(shutil.copytree(world_made, tmp_path / "world"))


@pytest.mark.parametrize(("args", "says"), BAD_INPUT, ids=[" ".join(a)[:70] for a, _ in BAD_INPUT])
def test_bad_input_exits_2_says_what_and_writes_nothing(
    world: Path, keys: Keys, args: list[str], says: str
) -> None:
    subst = {"{pub}": str(keys.ciso_pub), "{key}": str(keys.ciso_key), "{log}": str(keys.log_key)}
    argv = [subst.get(a, a) for a in args]
    before = tree_files(world)
    proc = remit(*argv, cwd=world, timeout=60)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert says.lower() in (proc.stderr + proc.stdout).lower(), proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree_files(world) == before  # nothing written, nothing created


def test_unreachable_database_exits_3(world: Path, keys: Keys) -> None:
    dead = "postgresql://remit@127.0.0.1:1/remit?connect_timeout=2"
    for args in (
        [*DECIDE, "--trusted-keys", str(keys.ciso_pub), "--db", dead],
        ["event", "add", "--kind", "acquisition", "--db", dead],
        ["keys", "list", "--db", dead],
        ["serve", "--envelope", "envelope.yaml", "--trusted-keys", str(keys.ciso_pub),
         "--db", dead, "--port", "0"],
    ):  # fmt: skip
        proc = remit(*args, cwd=world, timeout=60)
        assert proc.returncode == 3, f"{args[0]}: exit {proc.returncode}\n{proc.stderr}"
        assert "127.0.0.1" in proc.stderr and "Traceback" not in proc.stderr


def test_sqlite_url_is_a_path(world: Path, keys: Keys) -> None:
    d = json.loads(
        ok(
            remit(
                *DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "sqlite:///ledger.db", cwd=world
            )
        ).stdout
    )
    assert d["ledger_index"] > 0  # the existing ledger (a fresh one would start at 0)
    assert not (world / "sqlite:").exists()
    absolute = f"sqlite:///{world / 'ledger.db'}"
    ok(remit("keys", "list", "--db", absolute, "--format", "json", cwd=world))


def test_a_writing_command_starts_a_ledger_only_with_init(ws: Path, keys: Keys) -> None:
    proc = ok(remit(*DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "typo.db", cwd=ws), 2)
    assert "--init" in proc.stderr and not (ws / "typo.db").exists()
    ok(remit(*DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "new.db", "--init", cwd=ws))
    assert (ws / "new.db").exists()


def test_event_kinds_are_checked(world: Path) -> None:
    proc = ok(remit("event", "add", "--kind", "acquisiton", "--db", "ledger.db", cwd=world), 2)
    assert "'acquisiton' is not a known event kind" in proc.stderr
    assert "--custom" in proc.stderr
    rec = json.loads(
        ok(remit("event", "add", "--kind", "acquisition", "--db", "ledger.db", cwd=world)).stdout
    )
    assert rec["recorded"] is True and rec["kind"] == "acquisition"
    # a kind the envelope names is accepted with --envelope; another needs --custom
    ok(remit("event", "add", "--kind", "office_move", "--db", "ledger.db", cwd=world), 2)
    ok(remit("event", "add", "--kind", "office_move", "--custom", "--db", "ledger.db", cwd=world))


def test_keys_create_checks_the_agent_against_the_envelope(world: Path) -> None:
    base = ["keys", "create", "--role", "agent", "--name", "bot", "--db", "ledger.db"]
    proc = ok(remit(*base, "--agent", "nobody", "--envelope", "envelope.yaml", cwd=world), 2)
    assert "'nobody' is not an agent of envelope.yaml" in proc.stderr
    assert "remediator" in proc.stderr
    out = ok(remit(*base, "--agent", "remediator", "--envelope", "envelope.yaml", cwd=world))
    assert out.stdout.splitlines()[-1].startswith("rk_")
    unchecked = ok(remit(*base, "--agent", "remediator", cwd=world))
    assert "--agent is not checked" in unchecked.stderr


def test_private_key_as_trust_anchor_names_the_public_file(world: Path, keys: Keys) -> None:
    proc = ok(remit(*DECIDE, "--trusted-keys", keys.ciso_key, "--db", "ledger.db", cwd=world), 2)
    assert "PRIVATE key" in proc.stderr and str(keys.ciso_pub) in proc.stderr
    assert "PRIVATE+KEY" not in proc.stderr  # the secret is never echoed


def test_log_key_cannot_sign_an_envelope_off(world: Path, keys: Keys) -> None:
    # a sign-off key named like any other, but it is the ledger's REMIT_LOG_KEY
    from tests.cli.clikit import cli_env

    env = cli_env(REMIT_LOG_KEY=str(keys.ciso_key))
    proc = remit(
        "envelope", "sign", "envelope.yaml", "--key", keys.ciso_key,
        "--signer", "x@example.com", "--role", "CISO", cwd=world, env=env,
    )  # fmt: skip
    assert proc.returncode == 2 and "the REMIT_LOG_KEY" in proc.stderr


def test_decide_dry_run_records_nothing_and_fail_on_sets_the_exit(world: Path, keys: Keys) -> None:
    before = tree_files(world)
    proc = ok(
        remit(
            *DECIDE,
            "--trusted-keys",
            keys.ciso_pub,
            "--db",
            "ledger.db",
            "--dry-run",
            "--fail-on",
            "deny",
            cwd=world,
        )
    )
    d = json.loads(proc.stdout)
    assert d["dry_run"] is True and d["tier"] == "notify" and "ledger_index" not in d
    assert "not recorded" in proc.stderr
    assert tree_files(world) == before
    proc = remit(*DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "ledger.db", "--dry-run",
                 "--fail-on", "notify,approve", "--format", "table", cwd=world)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "NOTIFY" in proc.stdout and "--fail-on: the tier is notify" in proc.stderr
    # a dry run on no ledger at all decides with an empty history and creates nothing
    ok(remit(*DECIDE, "--trusted-keys", keys.ciso_pub, "--db", "none.db", "--dry-run", cwd=world))
    assert not (world / "none.db").exists()


@pytest.mark.postgres
def test_missing_postgres_database_says_how_to_create_it(world: Path) -> None:
    proc = remit("keys", "list", "--db", "postgresql://127.0.0.1:5432/remit_no_such_db", cwd=world)
    assert proc.returncode == 3, proc.stderr
    assert "does not exist" in proc.stderr and "createdb" in proc.stderr
    assert "docs/postgres.md" in proc.stderr
