"""The configured payment provider, for the routers of the modules that take payments."""

from typing import Annotated

from fastapi import Depends

from iwm.core.deps import ResourcesDep
from iwm.modules.payments.provider import PaymentProvider, make_provider


async def payment_provider(resources: ResourcesDep) -> PaymentProvider:
    return make_provider(resources.settings, resources.payment_webhook_secret)


ProviderDep = Annotated[PaymentProvider, Depends(payment_provider)]
