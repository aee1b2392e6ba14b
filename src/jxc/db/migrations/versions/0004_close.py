"""close: seals, snapshots, statements, period guard

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import csv
from importlib import resources

import sqlalchemy as sa
from alembic import op

import jxc.db.types

# Kept here, not imported, so that this migration means the same thing forever.
_NEW_GRANTS = {"manager": ("period.lock",)}

# The period guard (PostgreSQL): rows of a period that is not open cannot be written, by
# any path, direct SQL included. (table, columns an UPDATE may not change; None: any column.)
# Columns left out change legitimately while the period is closed: a return in an open period
# marks its source entry `linked`, a later settlement is linked from a receipt/payment.
_GUARDED = (
    ("voucher", None),
    ("voucher_line", None),
    ("account_balance", None),
    ("partner_balance", None),
    ("cost_run", None),
    ("account_snapshot", None),
    ("stock_snapshot", None),
    ("period_close", None),
    ("stock_doc", ("doc_type", "no", "doc_date", "period_id", "status", "red", "partner_id", "warehouse_id",
                   "to_warehouse_id", "source_id", "counter_account_id", "voucher_id")),
    ("stock_entry", ("doc_id", "doc_line_id", "leg", "product_id", "warehouse_id", "batch", "entry_date",
                     "period_id", "dir", "qty", "value", "adjust", "bal_qty", "bal_value", "unit_cost",
                     "voucher_id", "dr_account_id", "cr_account_id", "dr_line", "cr_line")),
    ("invoice", ("side", "no", "invoice_date", "period_id", "partner_id", "invoice_kind", "red", "status",
                 "amount", "tax", "total", "voucher_id")),
    ("cash_doc", ("side", "no", "doc_date", "period_id", "partner_id", "account_id", "amount", "status",
                  "voucher_id")),
    ("settlement", ("no", "side", "settle_date", "period_id", "partner_id", "voucher_id")),
)
_GUARD_FUNCTION = """
CREATE FUNCTION jxc_period_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT status INTO st FROM period WHERE id = OLD.period_id;
        IF st IS DISTINCT FROM 'open' THEN
            RAISE EXCEPTION 'period % is %: % of % refused', OLD.period_id, st, TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'JX001';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT status INTO st FROM period WHERE id = NEW.period_id;
        IF st IS DISTINCT FROM 'open' THEN
            RAISE EXCEPTION 'period % is %: % of % refused', NEW.period_id, st, TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'JX001';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$;
"""
# Lines have no period of their own: theirs is their document's. (table, parent table, the
# line's key to it, guarded columns.) A stock line's inv_qty/inv_value change when an invoice
# in an open period bills a closed period's receipt.
_GUARDED_LINES = (
    ("stock_doc_line", "stock_doc", "doc_id", ("doc_id", "line_no", "product_id", "qty", "price", "tax_rate",
                                               "amount", "tax", "batch", "expiry", "book_qty", "source_line_id")),
    ("invoice_line", "invoice", "invoice_id", ("invoice_id", "line_no", "product_id", "qty", "price",
                                               "price_incl_tax", "tax_rate", "amount", "tax", "total")),
)
_LINE_FUNCTION = """
CREATE FUNCTION jxc_period_guard_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    st text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT p.status INTO st FROM {parent} d JOIN period p ON p.id = d.period_id WHERE d.id = OLD.{key};
        IF st IS DISTINCT FROM 'open' AND st IS NOT NULL THEN
            RAISE EXCEPTION 'period of {parent} % is %: % of {table} refused', OLD.{key}, st, TG_OP
                USING ERRCODE = 'JX001';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT p.status INTO st FROM {parent} d JOIN period p ON p.id = d.period_id WHERE d.id = NEW.{key};
        IF st IS DISTINCT FROM 'open' AND st IS NOT NULL THEN
            RAISE EXCEPTION 'period of {parent} % is %: % of {table} refused', NEW.{key}, st, TG_OP
                USING ERRCODE = 'JX001';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END $$;
"""
# A locked period is terminal; a closed one is reopened only by setting it open again.
_PERIOD_FUNCTION = """
CREATE FUNCTION jxc_period_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'open' THEN
            RAISE EXCEPTION 'period % is %: delete refused', OLD.id, OLD.status USING ERRCODE = 'JX001';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'locked' THEN
        RAISE EXCEPTION 'period % is locked', OLD.id USING ERRCODE = 'JX001';
    END IF;
    IF OLD.status <> 'open' AND (NEW.start_date, NEW.end_date, NEW.year, NEW.month, NEW.fiscal_year_id)
            IS DISTINCT FROM (OLD.start_date, OLD.end_date, OLD.year, OLD.month, OLD.fiscal_year_id) THEN
        RAISE EXCEPTION 'period % is %: change refused', OLD.id, OLD.status USING ERRCODE = 'JX001';
    END IF;
    RETURN NEW;
END $$;
"""


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('statement_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.String(length=30), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('label_en', sa.String(length=100), nullable=False),
    sa.Column('formula', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_line')),
    sa.UniqueConstraint('statement', 'line_no', name=op.f('uq_statement_line_statement_line_no'))
    )
    op.create_table('account_snapshot',
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('debit', jxc.db.types.ScaledDecimal(places=2, precision=18), nullable=False),
    sa.Column('credit', jxc.db.types.ScaledDecimal(places=2, precision=18), nullable=False),
    sa.Column('balance', jxc.db.types.ScaledDecimal(places=2, precision=18), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_account_snapshot_account_id_account')),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_account_snapshot_period_id_period')),
    sa.PrimaryKeyConstraint('period_id', 'account_id', 'partner_id', name=op.f('pk_account_snapshot'))
    )
    op.create_table('period_close',
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_by', sa.Integer(), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.Column('ran_costing', sa.Boolean(), nullable=False),
    sa.Column('created_year_id', sa.Integer(), nullable=True),
    sa.Column('profit', jxc.db.types.ScaledDecimal(places=2, precision=18), nullable=False),
    sa.ForeignKeyConstraint(['closed_by'], ['app_user.id'], name=op.f('fk_period_close_closed_by_app_user')),
    sa.ForeignKeyConstraint(['created_year_id'], ['fiscal_year.id'],
                            name=op.f('fk_period_close_created_year_id_fiscal_year')),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_period_close_period_id_period')),
    sa.PrimaryKeyConstraint('period_id', name=op.f('pk_period_close'))
    )
    op.create_table('stock_snapshot',
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=40), nullable=False),
    sa.Column('qty', jxc.db.types.ScaledDecimal(places=4, precision=18), nullable=False),
    sa.Column('value', jxc.db.types.ScaledDecimal(places=2, precision=18), nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_stock_snapshot_period_id_period')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_stock_snapshot_product_id_product')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name=op.f('fk_stock_snapshot_warehouse_id_warehouse')),
    sa.PrimaryKeyConstraint('period_id', 'product_id', 'warehouse_id', 'batch', name=op.f('pk_stock_snapshot'))
    )
    # ### end Alembic commands ###
    conn = op.get_bind()
    _grant(conn)
    _seed_statements(conn)
    if conn.dialect.name == "postgresql":
        op.execute(_GUARD_FUNCTION)
        op.execute(_PERIOD_FUNCTION)
        for table, columns in _GUARDED:
            of = f" OF {', '.join(columns)}" if columns else ""
            op.execute(f"CREATE TRIGGER jxc_guard_write BEFORE INSERT OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION jxc_period_guard()")
            op.execute(f"CREATE TRIGGER jxc_guard_update BEFORE UPDATE{of} ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION jxc_period_guard()")
        for table, parent, key, line_columns in _GUARDED_LINES:
            op.execute(_LINE_FUNCTION.format(table=table, parent=parent, key=key))
            op.execute(f"CREATE TRIGGER jxc_guard_write BEFORE INSERT OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION jxc_period_guard_{table}()")
            op.execute(f"CREATE TRIGGER jxc_guard_update BEFORE UPDATE OF {', '.join(line_columns)} ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION jxc_period_guard_{table}()")
        op.execute("CREATE TRIGGER jxc_guard_period BEFORE UPDATE OR DELETE ON period "
                   "FOR EACH ROW EXECUTE FUNCTION jxc_period_state_guard()")


def _grant(conn: sa.Connection) -> None:
    roles = set(conn.execute(sa.text("SELECT code FROM role")).scalars())
    granted = {tuple(r) for r in conn.execute(sa.text("SELECT role_code, permission FROM role_permission"))}
    for role, grants in _NEW_GRANTS.items():
        for permission in grants:
            if role in roles and (role, permission) not in granted:
                conn.execute(sa.text("INSERT INTO role_permission (role_code, permission) VALUES (:r, :p)"),
                             {"r": role, "p": permission})


def _seed_statements(conn: sa.Connection) -> None:
    """The 小企业会计准则 statements (会小企01表, 会小企02表) as shipped with this revision."""
    text = resources.files("jxc.data").joinpath("statements_small_2013.csv").read_text(encoding="utf-8")
    rows = [{"statement": r["statement"], "line_no": int(r["line_no"]), "position": int(r["position"]),
             "side": r["side"], "label": r["label"], "label_en": r["label_en"], "formula": r["formula"]}
            for r in csv.DictReader(text.splitlines())]
    if rows:
        table = sa.table("statement_line", *(sa.column(c) for c in rows[0]))
        conn.execute(table.insert(), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER jxc_guard_period ON period")
        for table, _ in _GUARDED:
            op.execute(f"DROP TRIGGER jxc_guard_write ON {table}")
            op.execute(f"DROP TRIGGER jxc_guard_update ON {table}")
        for table, _, _, _ in _GUARDED_LINES:
            op.execute(f"DROP TRIGGER jxc_guard_write ON {table}")
            op.execute(f"DROP TRIGGER jxc_guard_update ON {table}")
            op.execute(f"DROP FUNCTION jxc_period_guard_{table}()")
        op.execute("DROP FUNCTION jxc_period_state_guard()")
        op.execute("DROP FUNCTION jxc_period_guard()")
    op.execute("DELETE FROM role_permission WHERE permission = 'period.lock'")
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('stock_snapshot')
    op.drop_table('period_close')
    op.drop_table('account_snapshot')
    op.drop_table('statement_line')
    # ### end Alembic commands ###
