"""Shop products: SKU and slug unique, delete is soft (ARCHIVED)."""

import uuid
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.listing import Listing, SortOrder, contains, equals, one_of
from iwm.core.money import from_minor, percent_to_bp, to_minor
from iwm.core.principal import Principal
from iwm.core.slug import first_free, slugify
from iwm.modules.audit.service import AuditService
from iwm.modules.categories.models import Category, CategoryType
from iwm.modules.categories.service import CategoryService
from iwm.modules.products.errors import ProductNotFound, SkuAlreadyExists
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.products.schemas import ProductCreate, ProductUpdate

PRODUCTS = Listing(
    rows=select(Product, Category.name.label("category_name")).outerjoin(
        Category, Category.id == Product.category_id
    ),
    key=Product.id,
    base=Product,
    filters=[
        equals("status", Product.status),
        equals("category_id", Product.category_id),
        contains("search", Product.name, Product.sku, case_insensitive=True),
    ],
    sorts={"createdAt": Product.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


# The members' catalogue: ACTIVE products only, a category with its children.
CATALOGUE = Listing(
    rows=select(Product, Category).outerjoin(Category, Category.id == Product.category_id),
    key=Product.id,
    base=Product,
    filters=[
        equals("status", Product.status),
        one_of("category_ids", Product.category_id),
        contains(
            "search",
            Product.name,
            Product.short_description,
            Product.description,
            case_insensitive=True,
        ),
    ],
    sorts={
        "createdAt": Product.created_at,
        "price": Product.price_minor,
        "name": Product.name,
    },
    default_sort="createdAt",
    ids_first=False,
    entities=True,
)


class ProductService:
    """Never commits: the request's transaction does."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session
        self._audit = AuditService(session)

    async def get(self, product_id: uuid.UUID) -> Product:
        row = await self._db.get(Product, product_id)
        if row is None:
            raise ProductNotFound()
        return row

    async def list_page(
        self,
        page: int,
        page_size: int,
        status: ProductStatus | None,
        category_id: uuid.UUID | None,
        search: str | None,
    ) -> tuple[list[tuple[Product, str | None]], int]:
        found = await PRODUCTS.page(
            self._db,
            {"status": status, "category_id": category_id, "search": search or None},
            page=page,
            page_size=page_size,
        )
        return [(r.Product, r.category_name) for r in found.rows], found.total

    async def catalogue(
        self,
        page: int,
        page_size: int,
        *,
        category_id: uuid.UUID | None,
        search: str | None,
        sort_by: str,
        sort_order: SortOrder,
    ) -> tuple[list[tuple[Product, Category | None]], int]:
        """ACTIVE products, in `category_id` or any category below it, searched in name and
        descriptions (case-insensitive)."""
        ids = (
            await CategoryService(self._db).subtree(category_id, CategoryType.PRODUCT)
            if category_id is not None
            else None
        )
        if ids == []:
            return [], 0
        found = await CATALOGUE.page(
            self._db,
            {"status": ProductStatus.ACTIVE, "category_ids": ids, "search": search or None},
            page=page,
            page_size=page_size,
            sort_by=sort_by,
            sort_order=sort_order,
        )
        return [(r.Product, r.Category) for r in found.rows], found.total

    async def in_catalogue(self, id_or_slug: str) -> tuple[Product, Category | None]:
        """An ACTIVE product by id or slug; anything else is PRODUCT_NOT_FOUND (404)."""
        try:
            condition = Product.id == uuid.UUID(id_or_slug)
        except ValueError:
            condition = Product.slug == id_or_slug.lower()
        row = (
            await self._db.execute(
                select(Product, Category)
                .outerjoin(Category, Category.id == Product.category_id)
                .where(condition, Product.status == ProductStatus.ACTIVE)
            )
        ).first()
        if row is None:
            raise ProductNotFound()
        return row[0], row[1]

    async def _check_category(self, category_id: uuid.UUID | None) -> None:
        if category_id is not None:
            await CategoryService(self._db).get(category_id, CategoryType.PRODUCT)

    async def _sku_taken(self, sku: str, except_id: uuid.UUID | None = None) -> bool:
        stmt = select(Product.id).where(func.lower(Product.sku) == sku.lower())
        if except_id is not None:
            stmt = stmt.where(Product.id != except_id)
        return (await self._db.scalar(stmt)) is not None

    async def _free_slug(self, name: str) -> str:
        base = slugify(name)
        taken = set(
            await self._db.scalars(
                select(Product.slug).where(
                    or_(Product.slug == base, Product.slug.startswith(f"{base}-", autoescape=True))
                )
            )
        )
        return first_free(base, taken)

    async def _flush(self) -> None:
        try:
            await self._db.flush()
        except IntegrityError as exc:  # a concurrent create took the SKU after our check
            raise SkuAlreadyExists() from exc

    async def create(self, admin: Principal, body: ProductCreate) -> Product:
        """SkuAlreadyExists (409); CategoryNotFound (404) for an unknown category."""
        await self._check_category(body.category_id)
        if await self._sku_taken(body.sku):
            raise SkuAlreadyExists()
        row = Product(
            name=body.name.strip(),
            slug=await self._free_slug(body.name),
            sku=body.sku,
            description=body.description,
            short_description=body.short_description,
            price_minor=to_minor(body.price),
            compare_at_price_minor=(
                None if body.compare_at_price is None else to_minor(body.compare_at_price)
            ),
            category_id=body.category_id,
            status=body.status,
            stock_quantity=body.stock_quantity,
            track_inventory=body.track_inventory,
            details=_details(body.model_dump(mode="json", include=_DETAIL_FIELDS)),
            commission_bp=percent_to_bp(body.commission_percentage),
            career_points_bp=percent_to_bp(body.career_points_percentage),
            created_by=admin.user_id,
            updated_by=admin.user_id,
        )
        self._db.add(row)
        await self._flush()
        self._audit.record(admin, "PRODUCT_CREATED", "product", row.id, new=_snapshot(row))
        return row

    async def update(self, admin: Principal, product_id: uuid.UUID, body: ProductUpdate) -> Product:
        """ProductNotFound, SkuAlreadyExists, CategoryNotFound."""
        row = await self.get(product_id)
        before = _snapshot(row)
        state_before = _state(row)
        fields = body.model_fields_set
        if "sku" in fields and body.sku is not None and body.sku != row.sku:
            if await self._sku_taken(body.sku, row.id):
                raise SkuAlreadyExists()
            row.sku = body.sku
        if "category_id" in fields:
            await self._check_category(body.category_id)
            row.category_id = body.category_id
        for name in ("name", "description", "status", "track_inventory"):
            if name in fields and getattr(body, name) is not None:
                setattr(row, name, getattr(body, name))
        if "short_description" in fields:
            row.short_description = body.short_description
        if "stock_quantity" in fields:
            row.stock_quantity = body.stock_quantity
        if "price" in fields and body.price is not None:
            row.price_minor = to_minor(body.price)
        if "compare_at_price" in fields:
            row.compare_at_price_minor = (
                None if body.compare_at_price is None else to_minor(body.compare_at_price)
            )
        if "commission_percentage" in fields and body.commission_percentage is not None:
            row.commission_bp = percent_to_bp(body.commission_percentage)
        if "career_points_percentage" in fields and body.career_points_percentage is not None:
            row.career_points_bp = percent_to_bp(body.career_points_percentage)
        detail_updates = body.model_dump(mode="json", include=_DETAIL_FIELDS & fields)
        if detail_updates:
            row.details = {**row.details, **_details(detail_updates)}
        if row.status != ProductStatus.ARCHIVED:
            row.deleted_at = None
            row.deleted_by = None
        if _state(row) == state_before:
            # Nothing changed: no `updatedAt`, no audit row; the values set are dropped so
            # that the flush writes nothing either.
            await self._db.refresh(row)
            return row
        row.updated_by = admin.user_id
        row.updated_at = clock.now()
        await self._flush()
        after = _snapshot(row)
        changed = {k for k in after if after[k] != before[k]}
        self._audit.record(
            admin,
            "PRODUCT_UPDATED",
            "product",
            row.id,
            previous={k: before[k] for k in changed},
            new={k: after[k] for k in changed},
        )
        return row

    async def archive(self, admin: Principal, product_id: uuid.UUID) -> Product:
        """Soft delete: ARCHIVED. The shop orders' `ProductSales.archive` checks first that no
        unfinished order holds it."""
        row = await self.get(product_id)
        if row.status == ProductStatus.ARCHIVED and row.deleted_at is not None:
            return row  # already deleted: nothing to change, nothing to audit
        # Archived by a PATCH but not deleted: the DELETE records who deleted it, when.
        previous = row.status
        now = clock.now()
        row.status = ProductStatus.ARCHIVED
        row.deleted_at = row.deleted_at or now
        row.deleted_by = row.deleted_by or admin.user_id
        row.updated_at = now
        row.updated_by = admin.user_id
        self._audit.record(
            admin,
            "PRODUCT_DELETED",
            "product",
            row.id,
            previous={"status": previous},
            new={"status": ProductStatus.ARCHIVED.value},
        )
        return row

    async def reserve_stock(self, product: Product, quantity: int) -> bool:
        """Takes `quantity` off a tracked stock; False when it would go below zero (an
        untracked stock always has room)."""
        if not product.track_inventory:
            return True
        taken = await self._db.execute(
            update(Product)
            .where(Product.id == product.id, Product.stock_quantity >= quantity)
            .values(stock_quantity=Product.stock_quantity - quantity)
            .returning(Product.id)
            .execution_options(synchronize_session=False)
        )
        return taken.scalar_one_or_none() is not None

    async def release_stock(self, product_id: uuid.UUID, quantity: int) -> None:
        """Puts `quantity` back on a tracked stock (the items of a cancelled order)."""
        await self._db.execute(
            update(Product)
            .where(Product.id == product_id, Product.track_inventory.is_(True))
            .values(stock_quantity=Product.stock_quantity + quantity)
            .execution_options(synchronize_session=False)
        )


_DETAIL_FIELDS = {"weight", "dimensions", "attributes", "tags"}


def _details(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in _DETAIL_FIELDS}


# What an update may change; who changed it and when follow from a change.
_STAMPS = {"updated_at", "updated_by"}


def _state(row: Product) -> dict[str, Any]:
    return {
        attr.key: getattr(row, attr.key)
        for attr in sa_inspect(Product).column_attrs
        if attr.key not in _STAMPS
    }


def _snapshot(row: Product) -> dict[str, Any]:
    return {
        "name": row.name,
        "sku": row.sku,
        "status": str(row.status),
        "price": str(from_minor(row.price_minor)),
        "compareAtPrice": (
            None
            if row.compare_at_price_minor is None
            else str(from_minor(row.compare_at_price_minor))
        ),
        "categoryId": None if row.category_id is None else str(row.category_id),
        "stockQuantity": row.stock_quantity,
        "commissionPercentage": str(from_minor(row.commission_bp)),
        "careerPointsPercentage": str(from_minor(row.career_points_bp)),
    }
