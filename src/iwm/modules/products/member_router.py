"""The members' shop catalogue: /api/v1/products (SPEC §8)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.money import from_minor
from iwm.core.pagination import Page
from iwm.core.query import SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.categories.models import Category
from iwm.modules.products.errors import ProductNotFound
from iwm.modules.products.models import Product
from iwm.modules.products.schemas import CatalogueCategory, CataloguePage, CatalogueProduct
from iwm.modules.products.service import ProductService
from iwm.modules.users.deps import CurrentUser

router = APIRouter(
    prefix="/api/v1/products",
    tags=["member: catalogue"],
    responses=error_responses(Unauthorized, RateLimited),
)


async def product_reader(session: ReadSessionDep) -> ProductService:
    return ProductService(session)


ProductReaderDep = Annotated[ProductService, Depends(product_reader)]


def catalogue_product(row: Product, category: Category | None, currency: str) -> CatalogueProduct:
    details = row.details or {}
    return CatalogueProduct(
        id=row.id,
        name=row.name,
        slug=row.slug,
        description=row.description,
        short_description=row.short_description,
        price=from_minor(row.price_minor),
        compare_at_price=(
            None if row.compare_at_price_minor is None else from_minor(row.compare_at_price_minor)
        ),
        currency=currency,
        category=(
            CatalogueCategory(id=category.id, name=category.name, slug=category.slug)
            if category is not None
            else None
        ),
        in_stock=not row.track_inventory or (row.stock_quantity or 0) > 0,
        stock_quantity=row.stock_quantity if row.track_inventory else None,
        attributes=dict(details.get("attributes") or {}),
        tags=list(details.get("tags") or []),
    )


@router.get("", responses=error_responses(ValidationFailed))
async def list_products(
    member: CurrentUser,
    products: ProductReaderDep,
    resources: ResourcesDep,
    page: Page,
    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None,
    search: Annotated[SearchText | None, Query(min_length=1, max_length=100)] = None,
    sort_by: Annotated[Literal["createdAt", "price", "name"], Query(alias="sortBy")] = "createdAt",
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.DESC,
) -> Envelope[CataloguePage]:
    """Active products, by category (its children included) and search text."""
    rows, total = await products.catalogue(
        page.page,
        page.page_size,
        category_id=category_id,
        search=search.strip() or None if search else None,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    currency = resources.settings.currency
    return ok(
        CataloguePage(products=[catalogue_product(p, c, currency) for p, c in rows]),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{id_or_slug}", responses=error_responses(ProductNotFound))
async def get_product(
    id_or_slug: Annotated[str, Path(min_length=1, max_length=220)],
    member: CurrentUser,
    products: ProductReaderDep,
    resources: ResourcesDep,
) -> Envelope[CatalogueProduct]:
    """One active product, by id or slug."""
    product, category = await products.in_catalogue(id_or_slug)
    return ok(catalogue_product(product, category, resources.settings.currency))
