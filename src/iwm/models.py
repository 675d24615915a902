"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from iwm.core.db import Base
from iwm.core.mail import OutboxMail
from iwm.core.sessions import SessionRow
from iwm.modules.activity.models import ActivityLog
from iwm.modules.analytics.models import (
    CommissionDaily,
    CustomerSales,
    PartnerCommissions,
    ProductSalesDaily,
    SaleFact,
    SalesDaily,
    UsersDaily,
)
from iwm.modules.audit.models import AuditLog
from iwm.modules.auth.models import AuthToken, RecoveryCode, TwoFactorSecret
from iwm.modules.categories.models import Category
from iwm.modules.codes.models import FreeRoundCode
from iwm.modules.commissions.models import Commission, CommissionChange, CommissionTotal
from iwm.modules.kiosks.models import Kiosk, KioskCashEntry, KioskErrorReport
from iwm.modules.kyc.models import KycDocument, KycHistory, KycVerification
from iwm.modules.ledger.models import LedgerEntry
from iwm.modules.network.models import (
    NetworkLevel,
    NetworkPartner,
    NetworkTreeEdge,
    PartnerPeriodVolume,
    PartnerRank,
)
from iwm.modules.orders.models import Order, OrderNumber
from iwm.modules.payments.models import Payment, PaymentWebhookEvent
from iwm.modules.payouts.models import Payout, SimulatedPayment
from iwm.modules.products.models import Product
from iwm.modules.ranks.models import RankChange, RankPeriod, RankPlanRecord
from iwm.modules.rounds.models import KioskSession
from iwm.modules.scheduler.models import JobRun
from iwm.modules.shop_orders.models import (
    OrderNumberCounter,
    ShopOrder,
    ShopOrderItem,
    ShopOrderTotal,
)
from iwm.modules.shops.models import Shop
from iwm.modules.strategies.models import InvestmentReturn, Participation, Strategy
from iwm.modules.users.models import User, UserAddress, UserNote, UserRole

__all__ = [
    "ActivityLog",
    "AuditLog",
    "AuthToken",
    "Base",
    "Category",
    "Commission",
    "CommissionChange",
    "CommissionDaily",
    "CommissionTotal",
    "CustomerSales",
    "FreeRoundCode",
    "InvestmentReturn",
    "JobRun",
    "Kiosk",
    "KioskCashEntry",
    "KioskErrorReport",
    "KioskSession",
    "KycDocument",
    "KycHistory",
    "KycVerification",
    "LedgerEntry",
    "NetworkLevel",
    "NetworkPartner",
    "NetworkTreeEdge",
    "Order",
    "OrderNumber",
    "OrderNumberCounter",
    "OutboxMail",
    "Participation",
    "PartnerCommissions",
    "PartnerPeriodVolume",
    "PartnerRank",
    "Payment",
    "PaymentWebhookEvent",
    "Payout",
    "Product",
    "ProductSalesDaily",
    "RankChange",
    "RankPeriod",
    "RankPlanRecord",
    "RecoveryCode",
    "SaleFact",
    "SalesDaily",
    "SessionRow",
    "Shop",
    "ShopOrder",
    "ShopOrderItem",
    "ShopOrderTotal",
    "SimulatedPayment",
    "Strategy",
    "TwoFactorSecret",
    "User",
    "UserAddress",
    "UserNote",
    "UserRole",
    "UsersDaily",
]
