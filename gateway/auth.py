"""Participants, roles and bearer tokens.

Owns the participant registry: id (the engine account), name, role and the SHA-256 hashes of its
tokens (a token itself is shown once, when it is issued, and never stored). Persisted as one JSON
file in the data directory, replaced atomically on every change. Roles:

- ``trader``: places orders and bids with its own cash; reads its own orders, fills, balances
- ``cooperative``: registers its own lots, lists them, sells from them (orders, auctions)
- ``lab``: posts assay results; nothing else
- ``analyst``: reads market data; changes nothing
- ``operator``: administers instruments, participants, cash and custody

The market always keeps a way in: the API refuses to revoke the tokens of the last operator
that has any (`LastOperatorToken`, 409), and `recover_operator_token` (``herbx operator-token``)
issues a new operator token straight into the file while the market is stopped, for an operator
token that was lost.

Must never store or log a token in clear, nor compare hashes in a way that leaks timing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from engine.messages import AccountId

Role = Literal["trader", "cooperative", "lab", "analyst", "operator"]
ROLES: tuple[Role, ...] = ("trader", "cooperative", "lab", "analyst", "operator")
#: roles whose participant id is an engine account that can hold cash or goods and trade
TRADING_ROLES: frozenset[str] = frozenset({"trader", "cooperative"})
ParticipantId = AccountId  # a participant is an engine account: one declaration of its id


class Participant(Struct, kw_only=True):
    id: ParticipantId
    name: Annotated[str, Meta(min_length=1, max_length=120)]
    role: Role
    number: int = 0  # a cooperative's market registration number (placeholder GTINs use it)
    token_hashes: list[str] = []


def _stamp(path: Path) -> tuple[int, int, int]:
    """Identifies a version of the file: every save is a new inode (atomic replace), so this
    changes even when two saves fall within the file system's timestamp granularity."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hx_" + secrets.token_urlsafe(24)


class LastOperatorToken(Exception):
    """Revoking these tokens would leave no operator able to sign in."""


class RecoveryRefused(Exception):
    """`recover_operator_token` cannot run (no market there, or the market is running)."""


class Registry:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self.participants: dict[str, Participant] = {}
        self._by_hash: dict[str, str] = {}
        self._stamp: tuple[int, int, int] = (0, 0, 0)
        self._load()

    def _load(self) -> None:
        """(Re)read the file: gateways of one market on one host share it."""
        if self._path is None or not self._path.exists():
            return
        self._stamp = _stamp(self._path)
        self.participants = {}
        self._by_hash = {}
        for p in msgspec.json.decode(self._path.read_bytes(), type=list[Participant]):
            self._index(p)

    def _changed_on_disk(self) -> bool:
        try:
            return self._path is not None and _stamp(self._path) != self._stamp
        except FileNotFoundError:
            return False

    def _index(self, p: Participant) -> None:
        self.participants[p.id] = p
        for h in p.token_hashes:
            self._by_hash[h] = p.id

    def save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(msgspec.json.encode(list(self.participants.values())))
        os.replace(tmp, self._path)
        self._stamp = _stamp(self._path)

    def add(self, p: Participant) -> None:
        if self._changed_on_disk():
            self._load()
        if p.id in self.participants:
            raise KeyError(p.id)
        self._index(p)
        self.save()

    def issue_token(self, participant_id: str, token: str | None = None) -> str:
        """A new token for the participant (``token`` fixes it: demo and bootstrap only)."""
        if self._changed_on_disk():
            self._load()
        p = self.participants[participant_id]
        token = token or new_token()
        h = hash_token(token)
        if h not in self._by_hash:
            p.token_hashes.append(h)
            self._by_hash[h] = p.id
            self.save()
        return token

    def revoke_tokens(self, participant_id: str) -> int:
        """Revoke every token of the participant; refused (`LastOperatorToken`) when it is the
        last operator with any token, so the market never locks its operators out."""
        if self._changed_on_disk():  # tokens issued by another gateway process count too
            self._load()
        p = self.participants[participant_id]
        if p.role == "operator" and p.token_hashes and not any(
            q.role == "operator" and q.token_hashes and q.id != p.id
            for q in self.participants.values()
        ):
            raise LastOperatorToken(participant_id)
        n = len(p.token_hashes)
        for h in p.token_hashes:
            self._by_hash.pop(h, None)
        p.token_hashes = []
        self.save()
        return n

    def rotate_tokens(self, participant_id: str) -> str:
        """One new token for the participant in place of all its others, in one save (so the
        participant is never without a token, as revoke then issue would leave it)."""
        if self._changed_on_disk():
            self._load()
        p = self.participants[participant_id]
        for h in p.token_hashes:
            self._by_hash.pop(h, None)
        p.token_hashes = []
        return self.issue_token(participant_id)

    def authenticate(self, token: str) -> Participant | None:
        h = hash_token(token)
        pid = self._by_hash.get(h)
        if pid is None and self._changed_on_disk():  # issued by another gateway process
            self._load()
            pid = self._by_hash.get(h)
        if pid is None:
            return None
        p = self.participants[pid]
        # the dict lookup found it by hash; compare in constant time anyway for the record
        return p if any(hmac.compare_digest(h, x) for x in p.token_hashes) else None


#: the participant a new market's operator is (gateway.app bootstraps it on first start)
BOOTSTRAP_OPERATOR = "operator"


def operator_token_command(data_dir: Path, *, revoke_old: bool = False) -> int:
    """`herbx operator-token`: `recover_operator_token`, the token printed once on stdout and
    what happened on stderr; 2 when it is refused."""
    import sys

    try:
        pid, token = recover_operator_token(data_dir, revoke_old=revoke_old)
    except RecoveryRefused as exc:
        print(f"herbx operator-token: {exc}", file=sys.stderr)
        return 2
    print(f"herbx operator-token: new token for {pid!r} (shown once; "
          f"{'its other tokens revoked' if revoke_old else 'its other tokens still valid'})",
          file=sys.stderr)
    print(token)
    return 0


def recover_operator_token(data_dir: Path, *, revoke_old: bool = False) -> tuple[str, str]:
    """A new token for the market's operator, written into the participants file of
    ``data_dir`` while no market runs on it: the way back in when every operator token is lost.
    Returns (participant id, token); the token is shown once by the caller. ``revoke_old``
    also revokes that operator's other tokens (a token that leaked).

    Holds the sequencer's ``engine/LOCK`` while it writes, so it refuses to run beside a market
    on this directory (a running gateway would overwrite the file from its own copy)."""
    path = data_dir / "gateway" / "participants.json"
    if not path.exists():
        raise RecoveryRefused(f"no market in {data_dir} (no {path.relative_to(data_dir)}); a new "
                              "market prints its operator token on first start")
    with contextlib.ExitStack() as stack:
        engine = data_dir / "engine"
        if engine.is_dir():
            fd = os.open(engine / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RecoveryRefused(f"a market is running on {data_dir}; stop it first (or "
                                      "issue a token through the API with another "
                                      "operator's token)") from None
        registry = Registry(path)
        p = registry.participants.get(BOOTSTRAP_OPERATOR)
        if p is None or p.role != "operator":
            p = next((q for q in registry.participants.values() if q.role == "operator"), None)
        if p is None:
            if BOOTSTRAP_OPERATOR in registry.participants:
                raise RecoveryRefused(f"participant {BOOTSTRAP_OPERATOR!r} is not an operator "
                                      "and there is no operator")
            p = Participant(id=BOOTSTRAP_OPERATOR, name="Ban quản lý chợ (operator)",
                            role="operator")
            registry.add(p)
        token = registry.rotate_tokens(p.id) if revoke_old else registry.issue_token(p.id)
        return p.id, token
