"""Row ids are UUID version 7 (core.ids): valid RFC 9562 ids, in creation order."""

from __future__ import annotations

import time
import uuid

import pytest

from core.ids import uuid7, uuid7_many
from tenants.models import Tenant
from tests.factories import VendorFactory


def test_a_new_id_is_version_7_with_the_rfc_variant_and_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    new = uuid7()
    after = time.time_ns() // 1_000_000
    assert new.version == 7
    assert new.variant == uuid.RFC_4122
    assert before <= new.int >> 80 <= after


def test_ids_of_later_milliseconds_sort_after_and_ids_never_repeat() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert str(first) < str(second)  # as text, as PostgreSQL's uuid order: the B-tree order
    many = {uuid7() for _ in range(10_000)}
    assert len(many) == 10_000  # 74 random bits per id


def test_ids_made_together_are_the_same_kind_of_ids() -> None:
    before = time.time_ns() // 1_000_000
    many = uuid7_many(10_000)
    after = time.time_ns() // 1_000_000
    assert len(set(many)) == 10_000
    assert all(new.version == 7 and new.variant == uuid.RFC_4122 for new in many)
    assert all(before <= new.int >> 80 <= after for new in many)
    time.sleep(0.002)
    assert max(map(str, many)) < str(uuid7_many(1)[0])  # a later millisecond sorts after
    assert uuid7_many(0) == []


@pytest.mark.django_db
def test_rows_get_time_ordered_ids(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    assert vendor.pk.version == 7
    assert Tenant.objects.create(name="Later", slug="later").pk.version == 7
