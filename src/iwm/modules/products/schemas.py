import uuid
from typing import Literal

from pydantic import Field, StrictBool

from iwm.core.amounts import AmountIn, CountIn, MeasureIn, PercentIn
from iwm.core.money import Money
from iwm.core.schemas import CamelModel, PatchBody, StrictBody, UtcDateTime
from iwm.modules.products.models import ProductStatus


class Dimensions(StrictBody):
    length: MeasureIn
    width: MeasureIn
    height: MeasureIn


class ProductCreate(StrictBody):
    name: str = Field(min_length=1, max_length=300)
    description: str = Field(max_length=20_000)
    short_description: str | None = Field(default=None, max_length=500)
    price: AmountIn
    compare_at_price: AmountIn | None = None
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    category_id: uuid.UUID | None = None
    status: Literal["ACTIVE", "DRAFT", "ARCHIVED"]
    stock_quantity: CountIn | None = None
    track_inventory: StrictBool = False
    weight: MeasureIn | None = None
    dimensions: Dimensions | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=50)
    commission_percentage: PercentIn
    career_points_percentage: PercentIn


class ProductUpdate(PatchBody):
    """All fields optional; an explicit null clears the nullable ones."""

    nullable = frozenset(
        {"compare_at_price", "category_id", "stock_quantity", "weight", "dimensions"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    short_description: str | None = Field(default=None, max_length=500)
    price: AmountIn | None = None
    compare_at_price: AmountIn | None = None
    sku: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
    )
    category_id: uuid.UUID | None = None
    status: ProductStatus | None = None
    stock_quantity: CountIn | None = None
    track_inventory: StrictBool | None = None
    weight: MeasureIn | None = None
    dimensions: Dimensions | None = None
    attributes: dict[str, str] | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    commission_percentage: PercentIn | None = None
    career_points_percentage: PercentIn | None = None


class AdminProduct(CamelModel):
    id: uuid.UUID
    name: str
    sku: str
    status: str
    price: Money
    compare_at_price: Money | None
    stock_quantity: int | None
    category: str | None
    orders_count: int
    total_revenue: Money
    commission_percentage: Money
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AdminProductsPage(CamelModel):
    products: list[AdminProduct]


class ProductCreated(CamelModel):
    id: uuid.UUID
    name: str
    slug: str
    sku: str
    status: str
    created_at: UtcDateTime
    created_by: str


class ProductUpdated(CamelModel):
    id: uuid.UUID
    name: str
    sku: str
    status: str
    updated_at: UtcDateTime
    updated_by: str


class ProductDeleted(CamelModel):
    id: uuid.UUID
    status: Literal["ARCHIVED"] = "ARCHIVED"
    deleted_at: UtcDateTime
    deleted_by: str


class CatalogueCategory(CamelModel):
    id: uuid.UUID
    name: str
    slug: str


class CatalogueProduct(CamelModel):
    """A product as members see it: price from the catalogue, no SKU economics."""

    id: uuid.UUID
    name: str
    slug: str
    description: str
    short_description: str | None
    price: Money
    compare_at_price: Money | None
    currency: str
    category: CatalogueCategory | None
    in_stock: bool
    stock_quantity: int | None  # only for products that track inventory
    attributes: dict[str, str]
    tags: list[str]


class CataloguePage(CamelModel):
    products: list[CatalogueProduct]
