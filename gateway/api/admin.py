"""Operator endpoints: instruments, cash in and out, participants and their tokens, any
account's balances. The last operator's tokens cannot be revoked (409 ``last_operator_token``).

Engine refusals (``duplicate_instrument``, ``invalid_amount``, ``insufficient_cash``, ...) come
back as 4xx problems with the engine's reason code.

Never changes the engine but through `Gateway.submit`, nor maps a reason to a status itself
(`gateway.api.refusals` does).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from engine.messages import (
    AddInstrument,
    CashDeposited,
    CashWithdrawn,
    CommandRejected,
    Deposit,
    Event,
    HaltInstrument,
    ResumeInstrument,
    Withdraw,
)
from gateway.api.http import body, reply
from gateway.api.market import instrument_out
from gateway.api.orders import balances_of
from gateway.api.problems import Problem
from gateway.api.refusals import refusal
from gateway.api.schemas import (
    CashOut,
    CashRequest,
    InstrumentRequest,
    ParticipantOut,
    ParticipantRequest,
    TokenOut,
)
from gateway.auth import LastOperatorToken, Participant
from gateway.state import Gateway
from gateway.stream.ws import POLICY_VIOLATION


def _new_transfer_id() -> str:
    return f"hx-{uuid.uuid4().hex}"


def accepted(events: list[Event]) -> Event:
    first = events[0]
    if type(first) is CommandRejected:
        raise refusal(first.reason, first.detail)
    return first


async def add_instrument(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    r = await body(request, InstrumentRequest)
    accepted(await gw.submit(AddInstrument(
        symbol=r.symbol, herb=r.herb, grade=r.grade, unit=r.unit, tick_vnd=r.tick_vnd,
        qty_step=r.qty_step, band_bps=r.band_bps, ref_price_vnd=r.ref_price_vnd)))
    return reply(instrument_out(gw.exchange.instrument(r.symbol)), 201)


async def halt(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    symbol = request.match_info["symbol"]
    accepted(await gw.submit(HaltInstrument(symbol=symbol)))
    return reply(instrument_out(gw.exchange.instrument(symbol)))


async def resume(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    symbol = request.match_info["symbol"]
    accepted(await gw.submit(ResumeInstrument(symbol=symbol)))
    return reply(instrument_out(gw.exchange.instrument(symbol)))


def _trading_account(gw: Gateway, account: str) -> None:
    p = gw.registry.participants.get(account)
    if p is None or p.role not in ("trader", "cooperative"):
        raise Problem(404, "unknown_account", f"{account!r} is not a trader or cooperative")


async def deposit(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    r = await body(request, CashRequest)
    _trading_account(gw, r.account)
    ev = accepted(await gw.submit(Deposit(account=r.account, amount_vnd=r.amount_vnd,
                                          transfer_id=r.transfer_id or _new_transfer_id())))
    assert type(ev) is CashDeposited
    return reply(CashOut(account=ev.account, amount_vnd=ev.amount_vnd,
                         balance_vnd=ev.balance_vnd, transfer_id=ev.transfer_id), 201)


async def withdraw(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    r = await body(request, CashRequest)
    _trading_account(gw, r.account)
    ev = accepted(await gw.submit(Withdraw(account=r.account, amount_vnd=r.amount_vnd,
                                           transfer_id=r.transfer_id or _new_transfer_id())))
    assert type(ev) is CashWithdrawn
    return reply(CashOut(account=ev.account, amount_vnd=ev.amount_vnd,
                         balance_vnd=ev.balance_vnd, transfer_id=ev.transfer_id), 201)


def participant_out(p: Participant) -> ParticipantOut:
    return ParticipantOut(id=p.id, name=p.name, role=p.role, number=p.number)


async def list_participants(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply({"participants": [participant_out(p)
                                   for p in gw.registry.participants.values()]})


async def add_participant(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    r = await body(request, ParticipantRequest)
    if r.id in gw.registry.participants:
        raise Problem(409, "duplicate_participant", f"participant {r.id!r} exists")
    p = Participant(id=r.id, name=r.name, role=r.role, number=r.number)
    gw.registry.add(p)
    return reply(participant_out(p), 201)


def _participant(gw: Gateway, request: web.Request) -> Participant:
    p = gw.registry.participants.get(request.match_info["participant_id"])
    if p is None:
        raise Problem(404, "unknown_participant", "no such participant")
    return p


async def issue_token(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    p = _participant(gw, request)
    return reply(TokenOut(participant=p.id, token=gw.registry.issue_token(p.id)), 201)


async def revoke_tokens(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    p = _participant(gw, request)
    try:
        revoked = gw.registry.revoke_tokens(p.id)
    except LastOperatorToken:
        raise Problem(409, "last_operator_token",
                      f"{p.id!r} is the last operator with a token: revoking its tokens would "
                      "lock every operator out. Register another operator and issue it a token "
                      "first (or, with the market stopped, `herbx operator-token --revoke-old`)"
                      ) from None
    # a revoked participant's open WebSockets end too (1008): their session rested on the token
    for client in list(gw.clients):
        if client.who is not None and client.who.id == p.id:
            client.cut_off(POLICY_VIOLATION, "token revoked")
    return reply({"participant": p.id, "revoked": revoked})


async def account_balances(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply(balances_of(gw, request.match_info["account"]))
