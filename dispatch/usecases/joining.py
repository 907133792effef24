"""A resident joins: checks the application (core.joining), keeps the proof
of address in the proof files under a random name, and creates a pending
account with it.

The answer must never tell whether the e-mail already has an account. So
both paths cost the same Argon2 hash, and the account's id is drawn at
random before the store is asked: a new account gets it, a known e-mail
gets one that names nothing (and no second account). Sequential ids would
also have told how many accounts exist."""

from __future__ import annotations

import asyncio
import secrets

from dispatch.core.joining import JoinInput, check_proof
from dispatch.core.model import NewProof, NewUser, utcnow
from dispatch.core.passwords import check_password
from dispatch.core.validation import InputError
from dispatch.ports.proofs import ProofFiles
from dispatch.ports.store import DuplicateEmail, Store
from dispatch.usecases.sessions import hash_password
from geo import City

# Ids of joined accounts: above any count the CLI reaches, and below 2**53 so
# that JavaScript reads them exactly.
ID_LOW, ID_HIGH = 2**32, 2**48


def random_account_id() -> int:
    return ID_LOW + secrets.randbelow(ID_HIGH - ID_LOW)


class Joining:
    def __init__(self, city: City, store: Store, proofs: ProofFiles) -> None:
        self.city = city
        self.store = store
        self.proofs = proofs

    async def join(self, form: JoinInput, proof: bytes) -> int:
        """The id to answer with: the new pending account's, or (the e-mail
        has an account already) a random one."""
        check_password(form.password, form.email, form.name)
        sector = self.city.sector_of(form.lat, form.lon)
        if sector is None:
            raise InputError(422, "outside_city", "this home is in no sector of the city", "lat")
        media_type = check_proof(proof)
        account_id = random_account_id()
        password_hash = await asyncio.to_thread(hash_password, form.password)  # either way
        if await self.store.user_by_email(form.email) is not None:
            return account_id
        name = await self.proofs.save(proof)
        user = NewUser(
            role="resident",
            email=form.email,
            password_hash=password_hash,
            name=form.name,
            home_lat=form.lat,
            home_lon=form.lon,
            home_sector=sector,
            status="pending",
            address=form.address,
            phone=form.phone,
            on_behalf_of=form.on_behalf_of,
            id=account_id,
        )
        try:
            return await self.store.add_resident(user, NewProof(name, media_type, len(proof), utcnow()))
        except DuplicateEmail:  # joined meanwhile, by another request
            await self.proofs.delete(name)
            return account_id
        except BaseException:
            await self.proofs.delete(name)
            raise
