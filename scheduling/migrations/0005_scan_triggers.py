"""Sessions and clinics mark the flag scanner's plans changed (issue 17): the same
statement-level triggers as plans/migrations/0007_plan_scan_state.py, on the scheduling tables
the scanner reads — a session touches its component's plan; a clinic's time zone or REMS
certification touches every plan of the clinic (``plans.models.PlanScanState``)."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION scheduling_scan_touch_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM plans_scan_touch(ARRAY(SELECT c.plan_id FROM plans_plancomponent c
                                       WHERE c.id IN (SELECT component_id FROM new_rows)));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM plans_scan_touch(ARRAY(SELECT c.plan_id FROM plans_plancomponent c
                                       WHERE c.id IN (SELECT component_id FROM old_rows)));
    ELSE
        PERFORM plans_scan_touch(ARRAY(SELECT c.plan_id FROM plans_plancomponent c
                                       WHERE c.id IN (SELECT component_id FROM new_rows
                                                      UNION SELECT component_id FROM old_rows)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER scheduling_scan_session_insert AFTER INSERT ON scheduling_session
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling_scan_touch_session();
CREATE TRIGGER scheduling_scan_session_update AFTER UPDATE ON scheduling_session
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling_scan_touch_session();
CREATE TRIGGER scheduling_scan_session_delete AFTER DELETE ON scheduling_session
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling_scan_touch_session();

CREATE FUNCTION scheduling_scan_touch_clinic() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM plans_scan_touch(ARRAY(
        SELECT p.id FROM plans_careplan p WHERE p.clinic_id IN (
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.timezone, n.rems_certification_id, n.rems_certified_until)
                  IS DISTINCT FROM (o.timezone, o.rems_certification_id, o.rems_certified_until))));
    RETURN NULL;
END $$;
CREATE TRIGGER scheduling_scan_clinic_update AFTER UPDATE ON scheduling_clinic
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling_scan_touch_clinic();
"""

REVERSE = """
DROP TRIGGER IF EXISTS scheduling_scan_session_insert ON scheduling_session;
DROP TRIGGER IF EXISTS scheduling_scan_session_update ON scheduling_session;
DROP TRIGGER IF EXISTS scheduling_scan_session_delete ON scheduling_session;
DROP FUNCTION IF EXISTS scheduling_scan_touch_session();
DROP TRIGGER IF EXISTS scheduling_scan_clinic_update ON scheduling_clinic;
DROP FUNCTION IF EXISTS scheduling_scan_touch_clinic();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0004_move_messages_to_notifications"),
        ("plans", "0007_plan_scan_state"),
    ]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
