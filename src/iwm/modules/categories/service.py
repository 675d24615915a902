"""Categories: one tree per type, slugs unique per type."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.errors import ValidationFailed
from iwm.core.listing import Listing, Sort, SortOrder, equals
from iwm.core.principal import Principal
from iwm.core.slug import slugify
from iwm.modules.audit.service import AuditService
from iwm.modules.categories.errors import CategoryAlreadyExists, CategoryNotFound
from iwm.modules.categories.models import Category, CategoryType
from iwm.modules.categories.schemas import CategoryCreate

# By type, then name.
CATEGORIES = Listing(
    rows=select(Category),
    key=Category.id,
    base=Category,
    filters=[equals("type", Category.type)],
    sorts={"type": Sort(Category.type, then=(Category.name,))},
    default_sort="type",
    ids_first=False,
    entities=True,
)


class CategoryService:
    """Never commits: the request's transaction does."""

    def __init__(self, session: AsyncSession) -> None:
        self._db = session
        self._audit = AuditService(session)

    async def get(self, category_id: uuid.UUID, type_: CategoryType) -> Category:
        """CategoryNotFound (404) when missing or of another type."""
        row = await self._db.get(Category, category_id)
        if row is None or row.type != type_:
            raise CategoryNotFound()
        return row

    async def subtree(self, category_id: uuid.UUID, type_: CategoryType) -> list[uuid.UUID]:
        """The category and every category below it, at any depth (empty for an unknown
        category or one of another type). Categories are few: one read of the type's tree."""
        rows = (
            await self._db.execute(
                select(Category.id, Category.parent_id).where(Category.type == type_)
            )
        ).all()
        children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for cid, parent in rows:
            children.setdefault(parent, []).append(cid)
        if category_id not in {cid for cid, _ in rows}:
            return []
        found, todo = [], [category_id]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(children.get(current, []))
        return found

    async def list_page(
        self, type_: CategoryType | None, page: int, page_size: int
    ) -> tuple[list[Category], int]:
        found = await CATEGORIES.page(
            self._db, {"type": type_}, page=page, page_size=page_size, sort_order=SortOrder.ASC
        )
        return [r.Category for r in found.rows], found.total

    async def create(self, admin: Principal, body: CategoryCreate) -> Category:
        """CategoryNotFound for an unknown parent (or one of another type);
        CategoryAlreadyExists (409) when the slug is taken within the type."""
        if body.parent_id is not None:
            parent = await self._db.get(Category, body.parent_id)
            if parent is None or parent.type != body.type:
                raise CategoryNotFound(details={"parentId": ["No such category of this type"]})
        name = body.name.strip()
        if not name:
            raise ValidationFailed(details={"name": ["Name must not be blank"]})
        slug = slugify(name)
        taken = await self._db.scalar(
            select(Category.id).where(Category.type == body.type, Category.slug == slug)
        )
        if taken is not None:
            raise CategoryAlreadyExists(details={"slug": [slug]})
        row = Category(type=body.type, name=name, slug=slug, parent_id=body.parent_id)
        self._db.add(row)
        await self._db.flush()
        self._audit.record(
            admin,
            "CATEGORY_CREATED",
            "category",
            row.id,
            new={"name": name, "type": body.type.value, "slug": slug},
        )
        return row
