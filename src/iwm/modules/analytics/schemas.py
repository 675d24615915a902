"""Response bodies of the admin analytics (seed 004), camelCase, money with two decimals."""

import datetime as dt
import uuid

from iwm.core.money import Money
from iwm.core.schemas import CamelModel, UtcDateTime

Number = Money  # a figure written with at most two decimals (percentages, averages)


class PeriodFields(CamelModel):
    period: str
    period_start: UtcDateTime
    period_end: UtcDateTime


class UsersBlock(CamelModel):
    total: int
    new_in_period: int
    active: int
    suspended: int
    growth: Number


class PartnersBlock(CamelModel):
    total: int
    new_in_period: int
    active: int
    growth: Number


class OrdersBlock(CamelModel):
    total: int
    in_period: int
    revenue: Money
    average_order_value: Money
    growth: Number


class InvestmentsBlock(CamelModel):
    total_participations: int
    in_period: int
    total_invested: Money
    active_investments: int
    growth: Number


class CommissionsBlock(CamelModel):
    total_paid: Money
    paid_in_period: Money
    pending: Money
    growth: Number


class PayoutsBlock(CamelModel):
    total_processed: Money
    processed_in_period: Money
    pending: int
    pending_amount: Money


class QuickStats(CamelModel):
    conversion_rate: Number
    average_partner_earnings: Money
    partner_retention_rate: Number
    investment_retention_rate: Number


class DashboardResponse(PeriodFields):
    users: UsersBlock
    partners: PartnersBlock
    orders: OrdersBlock
    investments: InvestmentsBlock
    commissions: CommissionsBlock
    payouts: PayoutsBlock
    quick_stats: QuickStats


class SalesSummary(CamelModel):
    total_revenue: Money
    total_orders: int
    average_order_value: Money
    total_customers: int
    new_customers: int
    repeat_customers: int


class SalesPoint(CamelModel):
    date: dt.date
    revenue: Money
    orders: int
    average_order_value: Money


class CategorySales(CamelModel):
    category_id: uuid.UUID
    category_name: str
    revenue: Money
    orders: int
    percentage: Number


class ProductSales(CamelModel):
    product_id: uuid.UUID
    product_name: str
    revenue: Money
    quantity: int


class MethodSales(CamelModel):
    method: str
    count: int
    amount: Money
    percentage: Number


class RegionSales(CamelModel):
    region: str
    revenue: Money
    orders: int


class SalesResponse(PeriodFields):
    summary: SalesSummary
    timeline: list[SalesPoint]
    by_category: list[CategorySales]
    top_products: list[ProductSales]
    by_payment_method: list[MethodSales]
    by_region: list[RegionSales]


class CommissionSummaryBlock(CamelModel):
    total_generated: Money
    total_paid: Money
    total_pending: Money
    total_reversed: Money
    average_commission: Money
    partners_earning: int


class CommissionPoint(CamelModel):
    date: dt.date
    generated: Money
    paid: Money
    reversed: Money


class SourceBlock(CamelModel):
    source_type: str
    total: Money
    count: int
    percentage: Number


class LevelBlock(CamelModel):
    level: int
    total: Money
    count: int
    average_amount: Money


class RankBlock(CamelModel):
    rank_code: str
    rank_name: str
    partners_count: int
    total_earned: Money
    average_earned: Money


class EarnerBlock(CamelModel):
    partner_id: uuid.UUID
    partner_name: str
    rank: str | None
    total_earned: Money
    commissions_count: int


class PayoutStatsBlock(CamelModel):
    total_requested: Money
    total_approved: Money
    total_processed: Money
    average_processing_time: Number


class CommissionAnalyticsResponse(PeriodFields):
    summary: CommissionSummaryBlock
    timeline: list[CommissionPoint]
    by_source: list[SourceBlock]
    by_level: list[LevelBlock]
    by_rank: list[RankBlock]
    top_earners: list[EarnerBlock]
    payout_stats: PayoutStatsBlock


class KioskDay(CamelModel):
    date: dt.date
    orders: int
    printed: int


class ErrorCount(CamelModel):
    code: str
    count: int


class Uptime(CamelModel):
    """An estimate: hours with a sign of life from the kiosk / hours it existed in the
    period (docs/analytics.md)."""

    up_hours: int
    observed_hours: int
    percentage: Number


class CurrencyAmount(CamelModel):
    currency: str
    amount: Money


class KioskFigures(CamelModel):
    orders: int
    printed: int
    print_rate: Number
    errors: int
    errors_by_code: list[ErrorCount]
    uptime: Uptime
    timeline: list[KioskDay]
    # Rounds paid online and started in the period, and their amount per currency (each
    # kiosk sells in its own).
    online_rounds: int = 0
    online_revenue: list[CurrencyAmount] = []


class KioskRow(KioskFigures):
    kiosk_id: uuid.UUID
    kiosk_name: str
    shop_id: uuid.UUID
    shop_name: str
    partner_id: uuid.UUID
    status: str
    last_active_at: UtcDateTime | None


class PartnerRow(KioskFigures):
    partner_id: uuid.UUID
    partner_name: str
    partner_email: str
    kiosks: int


class KioskSummary(KioskFigures):
    kiosks: int
    partners: int


class KioskAnalyticsResponse(PeriodFields):
    orders_from: UtcDateTime
    errors_from: UtcDateTime
    summary: KioskSummary
    by_partner: list[PartnerRow]
    by_kiosk: list[KioskRow]
