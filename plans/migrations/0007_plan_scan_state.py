"""The flag scanner's per-plan state and the triggers that mark a plan changed (issue 17).

``plans_scan_touch(ids)`` records a ``PlanChange`` row per plan (insert only: a writer never
waits on a lock for it); statement-level triggers with transition tables call it once per
statement (a bulk insert of a million sessions is one call, not one per row) for every table
the scanner reads a plan's facts from: here the plan, its components and authorisations, its
patient's evaluations and measures, and its flags (but for the scanner's own flag writes,
which set ``plans.scan_writer`` for their transaction); scheduling/migrations/0005 adds the
sessions and the clinic. See ``plans.models.PlanScanState`` and ``plans.scanner.stability``.
"""

from django.db import migrations, models

TOUCH = """
CREATE FUNCTION plans_scan_touch(plan_ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO plans_planchange (plan_id)
    SELECT DISTINCT id FROM unnest(plan_ids) AS id WHERE id IS NOT NULL
$$;
"""

# name → (the plan ids a set of changed rows ``r`` touch, the table the trigger is on)
ROWS = {
    "component": ("SELECT r.plan_id FROM {rows} r", "plans_plancomponent"),
    "plan": ("SELECT r.id FROM {rows} r", "plans_careplan"),
    "evaluation": (
        "SELECT p.id FROM plans_careplan p WHERE p.patient_id IN (SELECT patient_id FROM {rows})",
        "plans_evaluation",
    ),
    "measure": (
        "SELECT p.id FROM plans_careplan p WHERE p.patient_id IN (SELECT patient_id FROM {rows})",
        "plans_measure",
    ),
    "authorization": (
        "SELECT c.plan_id FROM plans_plancomponent c"
        " WHERE c.id IN (SELECT component_id FROM {rows})",
        "plans_priorauthorization",
    ),
    "flag": ("SELECT r.plan_id FROM {rows} r", "plans_flag"),
}
# the plan's own rows: an update touches it, a delete removes its state and changes (it goes
# last: Django deletes a plan's sessions, components and flags before the plan)
EVENTS = {"plan": ("UPDATE",)}
GUARD = {"flag": "IF current_setting('plans.scan_writer', true) = 'on' THEN RETURN NULL; END IF;"}


def _function(name: str, select: str) -> str:
    new, old = select.format(rows="new_rows"), select.format(rows="old_rows")
    return f"""
CREATE FUNCTION plans_scan_touch_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {GUARD.get(name, "")}
    IF TG_OP = 'INSERT' THEN PERFORM plans_scan_touch(ARRAY({new}));
    ELSIF TG_OP = 'DELETE' THEN PERFORM plans_scan_touch(ARRAY({old}));
    ELSE PERFORM plans_scan_touch(ARRAY({new} UNION {old}));
    END IF;
    RETURN NULL;
END $$;
"""


def _triggers(name: str, table: str) -> str:
    out = []
    for event in EVENTS.get(name, ("INSERT", "UPDATE", "DELETE")):
        tables = {
            "INSERT": "NEW TABLE AS new_rows",
            "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
            "DELETE": "OLD TABLE AS old_rows",
        }[event]
        out.append(
            f"CREATE TRIGGER plans_scan_{name}_{event.lower()} AFTER {event} ON {table}"
            f" REFERENCING {tables} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION plans_scan_touch_{name}();"
        )
    return "\n".join(out)


PLAN_DELETED = """
CREATE FUNCTION plans_scan_forget_plan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM plans_planscanstate WHERE plan_id IN (SELECT id FROM old_rows);
    DELETE FROM plans_planchange WHERE plan_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;
CREATE TRIGGER plans_scan_plan_delete AFTER DELETE ON plans_careplan
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION plans_scan_forget_plan();
"""

FORWARD = "\n".join(
    [TOUCH, PLAN_DELETED]
    + [_function(name, select) + _triggers(name, table) for name, (select, table) in ROWS.items()]
)
REVERSE = "\n".join(
    [
        *(
            f"DROP TRIGGER IF EXISTS plans_scan_{name}_{event.lower()} ON {table};"
            for name, (_select, table) in ROWS.items()
            for event in EVENTS.get(name, ("INSERT", "UPDATE", "DELETE"))
        ),
        *(f"DROP FUNCTION IF EXISTS plans_scan_touch_{name}();" for name in ROWS),
        "DROP TRIGGER IF EXISTS plans_scan_plan_delete ON plans_careplan;",
        "DROP FUNCTION IF EXISTS plans_scan_forget_plan();",
        "DROP FUNCTION IF EXISTS plans_scan_touch(bigint[]);",
    ]
)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0006_merge_careplan_organization"),
    ]

    operations = [
        migrations.CreateModel(
            name="PlanChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("plan_id", models.BigIntegerField(db_index=True)),
            ],
        ),
        migrations.CreateModel(
            name="PlanScanState",
            fields=[
                ("plan_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("scanned_at", models.DateTimeField(blank=True, null=True)),
                ("stable_until", models.DateTimeField(blank=True, null=True)),
                ("fingerprint", models.CharField(blank=True, max_length=64)),
            ],
        ),
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
    ]
