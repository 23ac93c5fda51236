"""Audit events are written unsealed and chained by the sealer (audit.sealer).

- `xid` and `append_seq`, set by a BEFORE INSERT trigger whatever the client sends: the writing
  transaction's id and the next value of a database sequence. The sealer chains a tenant's events
  in that order, so readers order by it too.
- `sequence`, `prev_hash` and `hash` may be empty (unsealed); sealed whole or not at all.
- The append-only trigger now lets one UPDATE through: sealing an unsealed event (its three chain
  columns set, nothing else changed). A sealed event still cannot change, nothing can be deleted,
  and an event cannot be inserted sealed (only the sealer chains).
- Existing events are sealed already; the data step gives them `append_seq` in their chain order
  and, as `xid`, distinct negative placeholders in the same order (their transactions' ids are
  not known): they come first in the order, as in the chain, and a reader's cursor over them
  moves by `xid` alone, as over any other event.
"""

from django.db import migrations, models

DATA = """
CREATE SEQUENCE audit_auditevent_append_seq AS bigint;
ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete;
UPDATE audit_auditevent AS event
SET append_seq = ordered.position, xid = ordered.position - (SELECT count(*) FROM audit_auditevent) - 1
FROM (SELECT id, nextval('audit_auditevent_append_seq') AS position
      FROM (SELECT id FROM audit_auditevent ORDER BY tenant_id, sequence) AS chain) AS ordered
WHERE event.id = ordered.id;
ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete;
"""

DATA_BACKWARD = "DROP SEQUENCE audit_auditevent_append_seq;"

TRIGGERS = """
CREATE FUNCTION audit_auditevent_written_unsealed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sequence IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit events are written unsealed: only the sealer chains them'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.xid := pg_current_xact_id()::text::bigint;
    NEW.append_seq := nextval('audit_auditevent_append_seq');
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_auditevent_unsealed_insert
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_written_unsealed();

CREATE OR REPLACE FUNCTION audit_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unchanged audit_auditevent;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sequence IS NULL AND NEW.sequence IS NOT NULL THEN
        unchanged := NEW;
        unchanged.sequence := NULL;
        unchanged.prev_hash := OLD.prev_hash;
        unchanged.hash := OLD.hash;
        IF unchanged IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;  -- sealing: the chain columns of an unsealed event, nothing else
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

TRIGGERS_BACKWARD = """
CREATE OR REPLACE FUNCTION audit_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER audit_auditevent_unsealed_insert ON audit_auditevent;
DROP FUNCTION audit_auditevent_written_unsealed();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_time_ordered_ids'),
        ('tenants', '0009_risk_signals'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='auditevent',
            options={'ordering': ['tenant', 'xid', 'append_seq']},
        ),
        migrations.AddField(
            model_name='auditevent',
            name='append_seq',
            field=models.BigIntegerField(default=0, editable=False, help_text='Order of writing, database-wide.'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='xid',
            field=models.BigIntegerField(default=0, editable=False, help_text='The transaction that wrote the event.'),
        ),
        migrations.RunSQL(DATA, DATA_BACKWARD),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='sequence',
            field=models.BigIntegerField(blank=True, help_text="1, 2, 3… within the tenant; the chain's order. Empty until sealed.", null=True),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['tenant', 'xid', 'append_seq'], name='audit_tenant_chain_order'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('sequence__isnull', True)), fields=['tenant', 'xid', 'append_seq'], name='audit_unsealed'),
        ),
        migrations.AddConstraint(
            model_name='auditevent',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('hash__isnull', True), ('prev_hash__isnull', True), ('sequence__isnull', True)), models.Q(('hash__isnull', False), ('prev_hash__isnull', False), ('sequence__isnull', False)), _connector='OR'), name='auditevent_sealed_whole'),
        ),
        migrations.RunSQL(TRIGGERS, TRIGGERS_BACKWARD),
    ]
