"""Admin categories of products and strategies: /api/v1/admin/categories."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from iwm.core.deps import SessionDep
from iwm.core.errors import error_responses
from iwm.core.pagination import Page
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.categories.errors import CategoryAlreadyExists, CategoryNotFound
from iwm.modules.categories.models import CategoryType
from iwm.modules.categories.schemas import CategoriesPage, CategoryCreate, CategoryRead
from iwm.modules.categories.service import CategoryService
from iwm.modules.users.deps import AdminUser

router = APIRouter(prefix="/api/v1/admin/categories", tags=["admin: categories"])


@router.get("")
async def list_categories(
    admin: AdminUser,
    session: SessionDep,
    page: Page,
    type_: Annotated[CategoryType | None, Query(alias="type")] = None,
) -> Envelope[CategoriesPage]:
    """Categories, by type and name."""
    rows, total = await CategoryService(session).list_page(type_, page.page, page.page_size)
    return ok(
        CategoriesPage(categories=[CategoryRead.model_validate(r) for r in rows]),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(CategoryNotFound, CategoryAlreadyExists),
)
async def create_category(
    body: CategoryCreate, admin: AdminUser, session: SessionDep
) -> Envelope[CategoryRead]:
    """Create a category (slug unique per type)."""
    row = await CategoryService(session).create(admin, body)
    return ok(CategoryRead.model_validate(row))
