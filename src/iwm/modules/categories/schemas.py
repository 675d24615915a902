import uuid

from pydantic import Field

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime
from iwm.modules.categories.models import CategoryType


class CategoryCreate(StrictBody):
    name: str = Field(min_length=1, max_length=200)
    type: CategoryType
    parent_id: uuid.UUID | None = None


class CategoryRead(CamelModel):
    id: uuid.UUID
    name: str
    slug: str
    type: CategoryType
    parent_id: uuid.UUID | None
    created_at: UtcDateTime


class CategoriesPage(CamelModel):
    categories: list[CategoryRead]
