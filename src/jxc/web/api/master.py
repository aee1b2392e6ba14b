"""Master data over the API: products, partners and warehouses (list with search and keyset
pagination, read, create, change, enable/disable), the chart of accounts, and the product
lookup of the entry grids."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from jxc.services import accounts, apiviews, masterdata, quotes
from jxc.web.api.documents import DecimalText
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter()

ENTITY = {"products": "product", "partners": "partner", "warehouses": "warehouse"}
Code = Annotated[str, Field(min_length=1, max_length=40)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _record(row: Any) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "active": row.active, **plain(row.detail)}


class ProductCreate(BaseModel):
    code: Code
    name: Name
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    tax_rate: DecimalText
    category: str | None = None
    costing_method: Literal["moving_average", "fifo", "monthly_average"] = "moving_average"
    barcode: str | None = Field(None, max_length=64)
    batch_tracked: bool = False
    shelf_life_days: int | None = None
    min_qty: DecimalText | None = None
    max_qty: DecimalText | None = None
    spec: str | None = Field(None, max_length=200)


class ProductUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    name: Name | None = None
    spec: str | None = None
    unit: str | None = None
    category: str | None = None
    barcode: str | None = None
    tax_rate: DecimalText | None = None
    min_qty: DecimalText | None = None
    max_qty: DecimalText | None = None
    shelf_life_days: int | None = None
    costing_method: Literal["moving_average", "fifo", "monthly_average"] | None = None
    batch_tracked: bool | None = None


class PartnerCreate(BaseModel):
    code: Code
    name: Name
    kind: Literal["supplier", "customer", "both"]
    credit_limit: DecimalText | None = None


class WarehouseCreate(BaseModel):
    code: Code
    name: Name


class Rename(BaseModel):
    name: Name


@router.get("/lookup/products", tags=["master data"], summary="Product lookup for entry grids")
def lookup_products(db: DbDep, viewer: ViewerDep,
                    q: Annotated[str, Query(description="Code, barcode or part of the name")] = "",
                    limit: Annotated[int, Query(ge=1, le=50)] = quotes.LOOKUP_LIMIT) -> dict[str, Any]:
    """Active products whose code or barcode starts with `q` or whose name contains it; an
    exact code or barcode (a scan) comes first with `exact: true`. The entry grid's lookup."""
    return {"items": plain(quotes.lookup_products(db, q, actor=viewer.actor, limit=limit))}


@router.get("/accounts", tags=["master data"], summary="Chart of accounts")
def list_accounts(db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Every account in code order."""
    return {"items": plain(accounts.list_accounts(db, actor=viewer.actor))}


@router.post("/products", status_code=201, tags=["master data"], summary="Create a product")
def create_product(body: ProductCreate, response: Response, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    masterdata.add_product(db, masterdata.ProductIn(
        body.code, body.name, body.unit, body.tax_rate, body.category, body.costing_method, body.barcode,
        body.batch_tracked, body.shelf_life_days, body.min_qty, body.max_qty, body.spec), actor=viewer.actor)
    response.headers["Location"] = f"/api/products/{body.code.strip()}"
    return _record(apiviews.master_record(db, "product", body.code.strip(), actor=viewer.actor))


@router.post("/partners", status_code=201, tags=["master data"], summary="Create a partner")
def create_partner(body: PartnerCreate, response: Response, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    masterdata.add_partner(db, masterdata.PartnerIn(body.code, body.name, body.kind, body.credit_limit),
                           actor=viewer.actor)
    response.headers["Location"] = f"/api/partners/{body.code.strip()}"
    return _record(apiviews.master_record(db, "partner", body.code.strip(), actor=viewer.actor))


@router.post("/warehouses", status_code=201, tags=["master data"], summary="Create a warehouse")
def create_warehouse(body: WarehouseCreate, response: Response, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    masterdata.add_warehouse(db, masterdata.WarehouseIn(body.code, body.name), actor=viewer.actor)
    response.headers["Location"] = f"/api/warehouses/{body.code.strip()}"
    return _record(apiviews.master_record(db, "warehouse", body.code.strip(), actor=viewer.actor))


@router.patch("/products/{code}", tags=["master data"], summary="Change a product")
def update_product(code: str, body: ProductUpdate, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    """Its costing method and batch tracking are fixed once it has stock entries."""
    masterdata.update_product(db, code, masterdata.ProductChange(**body.model_dump()), actor=viewer.actor)
    return _record(apiviews.master_record(db, "product", code, actor=viewer.actor))


@router.patch("/partners/{code}", tags=["master data"], summary="Rename a partner")
def rename_partner(code: str, body: Rename, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    masterdata.rename(db, "partner", code, body.name, actor=viewer.actor)
    return _record(apiviews.master_record(db, "partner", code, actor=viewer.actor))


@router.patch("/warehouses/{code}", tags=["master data"], summary="Rename a warehouse")
def rename_warehouse(code: str, body: Rename, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
    masterdata.rename(db, "warehouse", code, body.name, actor=viewer.actor)
    return _record(apiviews.master_record(db, "warehouse", code, actor=viewer.actor))




def _register(plural: str, entity: str) -> None:
    """List, read, enable and disable, the same for each kind of master record."""
    tags: list[str | Any] = ["master data"]

    @router.get(f"/{plural}", tags=tags, summary=f"List {plural}", name=f"list_{plural}")
    def list_master(db: DbDep, viewer: ViewerDep,
                    q: Annotated[str | None, Query(description="Code start or name part (products: barcode)")]
                    = None,
                    after: Annotated[str | None, Query(description="next_after of the previous page")] = None,
                    limit: Annotated[int, Query(ge=1, le=apiviews.MAX_MASTER_PAGE)] = 50,
                    include_inactive: bool = False) -> dict[str, Any]:
        """In code order, a page at a time (keyset: pass `next_after` back as `after`)."""
        page = apiviews.master_page(db, entity, actor=viewer.actor, q=q, after=after, limit=limit,
                                    include_inactive=include_inactive)
        return {"items": [_record(r) for r in page.rows], "next_after": page.next_after}

    @router.get(f"/{plural}/{{code}}", tags=tags, summary=f"Read one of the {plural}", name=f"get_{entity}")
    def get_master(code: str, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
        return _record(apiviews.master_record(db, entity, code, actor=viewer.actor))

    @router.post(f"/{plural}/{{code}}/activate", tags=tags, summary="Enable a record", name=f"activate_{entity}")
    def activate(code: str, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
        masterdata.set_active(db, entity, code, True, actor=viewer.actor)
        return _record(apiviews.master_record(db, entity, code, actor=viewer.actor))

    @router.post(f"/{plural}/{{code}}/deactivate", tags=tags, summary="Disable a record",
                 name=f"deactivate_{entity}")
    def deactivate(code: str, db: DbDep, viewer: ViewerDep) -> dict[str, Any]:
        """Records are never deleted; one with stock on hand cannot be disabled."""
        masterdata.set_active(db, entity, code, False, actor=viewer.actor)
        return _record(apiviews.master_record(db, entity, code, actor=viewer.actor))


for _plural, _entity in ENTITY.items():
    _register(_plural, _entity)
