"""Admin shop products: /api/v1/admin/products. It lives with the shop orders because
every answer shows what the orders hold of the product (`ProductSales`)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from iwm.core.deps import SessionDep
from iwm.core.errors import error_responses
from iwm.core.money import bp_to_percent, from_minor
from iwm.core.pagination import Page
from iwm.core.query import SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.categories.errors import CategoryNotFound
from iwm.modules.products.errors import ProductNotFound, SkuAlreadyExists
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.products.schemas import (
    AdminProduct,
    AdminProductsPage,
    ProductCreate,
    ProductCreated,
    ProductDeleted,
    ProductUpdate,
    ProductUpdated,
)
from iwm.modules.products.service import ProductService
from iwm.modules.shop_orders.errors import HasPendingOrders
from iwm.modules.shop_orders.service import ProductSales, ProductStats
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.service import UserService

router = APIRouter(prefix="/api/v1/admin/products", tags=["admin: products"])

StatusFilter = Literal["ACTIVE", "DRAFT", "ARCHIVED", "OUT_OF_STOCK", "ALL"]


def _read(row: Product, category: str | None, stats: ProductStats) -> AdminProduct:
    return AdminProduct(
        id=row.id,
        name=row.name,
        sku=row.sku,
        status=row.status,
        price=from_minor(row.price_minor),
        compare_at_price=(
            None if row.compare_at_price_minor is None else from_minor(row.compare_at_price_minor)
        ),
        stock_quantity=row.stock_quantity,
        category=category,
        orders_count=stats.orders_count,
        total_revenue=from_minor(stats.revenue_minor),
        commission_percentage=bp_to_percent(row.commission_bp),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("")
async def list_products(
    admin: AdminUser,
    session: SessionDep,
    page: Page,
    status_: Annotated[StatusFilter | None, Query(alias="status")] = None,
    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None,
    search: Annotated[SearchText | None, Query(max_length=200)] = None,
) -> Envelope[AdminProductsPage]:
    """Products with their order counts and revenue, newest first."""
    wanted = None if status_ in (None, "ALL") else ProductStatus(status_)
    rows, total = await ProductService(session).list_page(
        page.page, page.page_size, wanted, category_id, search
    )
    stats = await ProductSales(session).stats([p.id for p, _ in rows])
    return ok(
        AdminProductsPage(
            products=[_read(p, cat, stats.get(p.id, ProductStats())) for p, cat in rows]
        ),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(SkuAlreadyExists, CategoryNotFound),
)
async def create_product(
    body: ProductCreate, admin: AdminUser, session: SessionDep
) -> Envelope[ProductCreated]:
    """Create a product."""
    row = await ProductService(session).create(admin, body)
    return ok(
        ProductCreated(
            id=row.id,
            name=row.name,
            slug=row.slug,
            sku=row.sku,
            status=row.status,
            created_at=row.created_at,
            created_by=admin.display_name,
        )
    )


@router.patch(
    "/{product_id}",
    responses=error_responses(ProductNotFound, SkuAlreadyExists, CategoryNotFound),
)
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, admin: AdminUser, session: SessionDep
) -> Envelope[ProductUpdated]:
    """Update a product."""
    row = await ProductService(session).update(admin, product_id, body)
    return ok(
        ProductUpdated(
            id=row.id,
            name=row.name,
            sku=row.sku,
            status=row.status,
            updated_at=row.updated_at,
            # A change that changed nothing answers who made the last real one.
            updated_by=await _name_of(session, admin, row.updated_by),
        )
    )


async def _name_of(session: SessionDep, admin: AdminUser, user_id: uuid.UUID | None) -> str:
    if user_id is None or user_id == admin.user_id:
        return admin.display_name
    return (await UserService(session).names({user_id})).get(user_id, "")


@router.delete("/{product_id}", responses=error_responses(ProductNotFound, HasPendingOrders))
async def delete_product(
    product_id: uuid.UUID, admin: AdminUser, session: SessionDep
) -> Envelope[ProductDeleted]:
    """Archive a product (soft delete)."""
    row = await ProductSales(session).archive(admin, product_id)
    assert row.deleted_at is not None  # noqa: S101
    return ok(
        ProductDeleted(
            id=row.id,
            deleted_at=row.deleted_at,
            deleted_by=await _name_of(session, admin, row.deleted_by),
        )
    )
